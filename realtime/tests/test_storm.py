"""A reconnect storm (issue 16): a few hundred socket.io-client connections on one server process
that is killed (-9) while events flow, then started again on the same port, as `make run`'s
supervisor does. Every client comes back by itself (socket.io-client's default backoff, with
jitter) with its `last_seen`, and ends with every event of its rooms in order (or a
`resync_required`). Admission is set low here so the storm is shed in part (HTTP 503,
`server_busy`) and the refused clients still come back on their backoff."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading

import pytest

from realtime import eventlog
from realtime.emit import emit, tenant_room, user_room
from realtime.redis import sync_client
from testing import BASE_DIR
from testing.counts import record_counts
from testing.processes import start_server

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 300
STORM_ENV = {
    "SOCKETIO_MAX_CONNECTIONS_PER_USER": "0",  # 100 connections per user, all from 127.0.0.1
    "SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS": "0",
    "SOCKETIO_MAX_PENDING_HANDSHAKES": "5",
}


class Emitter(threading.Thread):
    """test_event to each room in turn, paced (about 200 events/s), until stopped."""

    def __init__(self, rooms: list[str]) -> None:
        super().__init__(daemon=True)
        self.rooms = rooms
        self.stopped = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopped.wait(0.005):  # pacing, not synchronisation
                emit("test_event", {"n": self.sent}, room=self.rooms[self.sent % len(self.rooms)], on_commit=False)
                self.sent += 1
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)
        assert self.error is None, self.error


class StormClients:
    def __init__(self, url: str, tokens: list[str], clients: int) -> None:
        node = shutil.which("node")
        assert node, "node is required (make test installs the npm packages)"
        argv = [node, str(BASE_DIR / "testing" / "storm_clients.mjs"), "--url", url, "--clients", str(clients)]
        argv += ["--tokens", ",".join(tokens), "--timeout-ms", "60000"]
        self.proc = subprocess.Popen(argv, cwd=BASE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, f"storm clients exited ({self.proc.wait()})"
        return json.loads(line)

    def command(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def test_every_client_comes_back_after_kill_9_with_every_event_in_order(world):
    users = [world.alice, world.bob, world.charlie]
    rooms = [user_room(u.pk) for u in users] + sorted({tenant_room(u.profile.tenant_id) for u in users})
    server = start_server(**STORM_ENV)
    clients = StormClients(server.url, [world.token(u) for u in users], CLIENTS)
    emitter = Emitter(rooms)
    try:
        hello = clients.read()
        assert hello["ready"] == CLIENTS, hello
        emitter.start()
        server.proc.kill9()
        clients.command("mark kill")
        sent_at_kill = emitter.sent
        server = start_server(port=server.port, **STORM_ENV)
        clients.command("mark restart")
        assert emitter.sent > sent_at_kill, "events flowed while the server was down"
        emitter.stop()
        redis = sync_client()
        heads = {}
        for room in rooms:
            seq, _ = redis.hmget(eventlog.state_key("/", room), "seq", "epoch")
            heads[room] = int(seq or 0)
        result = clients.command("expect " + json.dumps(heads))
        log_text = server.proc.log_path.read_text(errors="replace")
        # admission logs a running total, at most once a second: at least this many were shed
        shed = max((int(n) for n in re.findall(r"shedding new connections: (\d+) so far", log_text)), default=0)
    finally:
        emitter.stopped.set()
        clients.close()
        server.proc.stop()
    record_counts(
        f"reconnect storm, {CLIENTS} clients, kill -9",
        {**result, "shed_by_admission": shed, "events_sent": emitter.sent},
    )
    assert result["back"] == CLIENTS, result
    assert result["caught_up"] == CLIENTS, result
    assert result["gaps"] == 0, result
    assert result["duplicates"] == 0, result
    assert shed > 0, "the storm went over the admission limit: some handshakes were shed, and came back"
