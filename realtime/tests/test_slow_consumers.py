"""Slow consumers (issue 12): a connection that stops reading is closed once the server holds
SOCKETIO_MAX_BUFFERED_BYTES for it (WebSocket close 4008 `slow_consumer`; long-polling: the
session ends), on every path, with the server's memory bounded; it is counted and logged once;
and a client cut off this way reconnects and gets every event exactly once, in order (replay).

The servers here run with a small bound (BOUND) so that a flood of a few MB shows it; the
40 MB measurement against the default bound is bench/slow_consumer.py."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
import websocket

from ops.tests.test_metrics import scrape, value
from realtime.emit import emit_many, user_room
from realtime.tests.test_bridge_support import RoomStreamClient
from testing import BASE_DIR
from testing.processes import LiveServer, start_server
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

BOUND = 256 * 1024
PAD = "x" * 16_000  # each flood event is about 16 kB on the wire
FLOOD_EVENTS = 400  # 6.4 MB: far more than the bound plus the kernel's socket buffers
COUNTER = "slow_consumer_disconnects"
METRICS_TOKEN = "scrape-token-for-the-slow-consumer-test-0123"


@pytest.fixture
def server(asgi_server) -> Iterator[LiveServer]:  # asgi_server: the test database is set up
    live = start_server(
        SOCKETIO_MAX_BUFFERED_BYTES=str(BOUND), OPS_PROCESS_INTERVAL_SECONDS="0.5", METRICS_TOKEN=METRICS_TOKEN
    )
    yield live
    live.proc.stop()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def flood(room: str, first: int, count: int) -> None:
    """`count` events of about 16 kB to `room`, numbered from `first`, in batches."""
    for start in range(first, first + count, 50):
        emit_many(("test_event", {"n": n, "text": PAD}, room) for n in range(start, min(start + 50, first + count)))


def _redis_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL


def snapshot(server: LiveServer) -> dict:
    """This server process's numbers, as it publishes them (ops.process_stats)."""
    raw = redis.Redis.from_url(_redis_url()).get(f"ops:proc:{socket.gethostname()}:{server.proc.popen.pid}")
    return json.loads(raw) if raw else {"counters": {}, "updated_at": 0}


def cut_offs(server: LiveServer, *, published_after: float | None = None) -> int:
    if published_after is not None:
        wait_until(
            lambda: snapshot(server)["updated_at"] > published_after, timeout=10, what="a fresh process snapshot"
        )
    return snapshot(server)["counters"].get(COUNTER, 0)


def wait_cut_off(server: LiveServer, n: int = 1) -> None:
    wait_until(lambda: cut_offs(server) >= n, timeout=30, what=f"{n} slow-consumer disconnect(s) counted")


def no_traceback(server: LiveServer) -> None:
    log = server.proc.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


# --- Socket.IO over WebSocket --------------------------------------------------------------------


class RawSocketIO:
    """A Socket.IO client at the wire level (Engine.IO 4 over one WebSocket) that reads only when
    told to, with a small receive buffer: what a phone in a tunnel looks like to the server."""

    def __init__(self, server: LiveServer, token: str) -> None:
        url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        sockopt = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)]
        self.ws = websocket.create_connection(url, timeout=10, suppress_origin=True, sockopt=sockopt)
        assert self.ws.recv().startswith("0")  # Engine.IO OPEN
        self.ws.send("40" + json.dumps({"token": token}))
        self.events: list[tuple[str, dict]] = []
        self.wait_event("connection_status")

    def read(self) -> tuple[int, str]:
        """One frame: (opcode, text); a close frame's text is 'code reason'."""
        opcode, data = self.ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
            return opcode, f"{code} {data[2:].decode()}"
        text = data.decode()
        if text == "2":
            self.ws.send("3")  # pong
        elif text.startswith("42"):
            event, payload = json.loads(text[2:])
            self.events.append((event, payload))
        return opcode, text

    def wait_event(self, name: str) -> None:
        while not any(e == name for e, _ in self.events):
            self.read()

    def read_to_close(self, timeout: float = 30) -> str | None:
        """Read everything the server still sends; the close frame's 'code reason', or None when
        the connection was dropped without one."""
        self.ws.settimeout(timeout)
        try:
            while True:
                opcode, text = self.read()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    return text
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return None


def test_a_websocket_client_that_stops_reading_is_closed_with_4008_and_memory_stays_bounded(world, server):
    room = user_room(world.alice.pk)
    slow = RawSocketIO(server, world.token(world.alice))
    healthy = NodeClient(server, world.token(world.alice))  # same user, same room, reads all along
    healthy.wait(lambda line: line.get("connected") == 1)
    rss0 = rss_bytes(server.proc.popen.pid)
    flood(room, 1, FLOOD_EVENTS)  # the slow client reads nothing meanwhile
    wait_cut_off(server)
    growth = rss_bytes(server.proc.popen.pid) - rss0
    # what it held is bounded: far below the 6.4 MB offered (the healthy client's frames, the
    # allocator's slack and the bound itself are what remains)
    assert growth < 4 * 1024 * 1024, growth
    close = slow.read_to_close()
    assert close in ("4008 slow_consumer", None), close  # None: it read too late, the connection was dropped
    if close is not None:
        got = [p["n"] for e, p in slow.events if e == "test_event"]
        assert got == list(range(1, len(got) + 1))  # what it got before the close, in order
    wait_until(
        lambda: len(healthy.report()["received"]) >= FLOOD_EVENTS, timeout=30, what="the healthy client's events"
    )
    report = healthy.report()
    healthy.close()
    assert [n for _, _, n in report["received"]] == list(range(1, FLOOD_EVENTS + 1))
    assert report["connected"] == 1  # never cut off
    assert cut_offs(server, published_after=time.time()) == 1  # the slow one, once
    # per process in /metrics (and so on the ops page, from the same snapshot)
    process = f"{socket.gethostname()}:{server.proc.popen.pid}"
    metrics = scrape(server.url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    samples = metrics["realtime_slow_consumer_disconnects"]
    assert value(samples, "realtime_slow_consumer_disconnects_total", process=process) == 1
    no_traceback(server)


def logged_cut_offs(server: LiveServer) -> int:
    return server.proc.log_path.read_text(errors="replace").count("disconnect slow consumer")


def test_the_close_code_and_reason_reach_a_client_that_reads_again_in_time(world, server):
    room = user_room(world.bob.pk)
    slow = RawSocketIO(server, world.token(world.bob))
    flooding = threading.Thread(target=flood, args=(room, 1, FLOOD_EVENTS), daemon=True)
    flooding.start()
    # the server's log line is the first sign (the counters are published every 0.5 s); the
    # client then reads again within the drain time, while the flood may still be going on:
    # the close comes after what was buffered before it
    wait_until(lambda: logged_cut_offs(server) == 1, timeout=30, what="the cut-off logged")
    close = slow.read_to_close()
    flooding.join(60)
    assert close == "4008 slow_consumer", close
    assert "user=%s room=%s" % (world.bob.pk, room) in server.proc.log_path.read_text()  # noqa: UP031
    got = [p["n"] for e, p in slow.events if e == "test_event"]
    assert got == list(range(1, len(got) + 1)) and len(got) < FLOOD_EVENTS


def test_a_client_reading_one_byte_a_second_is_cut_off_cleanly(world, server):
    slow = RawSocketIO(server, world.token(world.charlie))
    raw = slow.ws.sock
    flood(user_room(world.charlie.pk), 1, FLOOD_EVENTS)
    raw.settimeout(10)
    deadline = time.monotonic() + 30
    while cut_offs(server) < 1:
        assert time.monotonic() < deadline, "not cut off"
        raw.recv(1)
        time.sleep(1)  # the client under test reads one byte a second (the pace is the point)
    no_traceback(server)


# --- long-polling --------------------------------------------------------------------------------


def test_a_long_polling_client_that_stops_polling_loses_its_session(world, server):
    http = requests.Session()
    base = f"{server.url}/socket.io/?EIO=4&transport=polling"
    opened = http.get(base, timeout=10).text
    sid = json.loads(opened[1:])["sid"]
    url = f"{base}&sid={sid}"
    assert http.post(url, data="40" + json.dumps({"token": world.token(world.alice)}), timeout=10).ok
    deadline = time.monotonic() + 10
    got = ""
    while "connection_status" not in got:  # the namespace CONNECT and the welcome
        assert time.monotonic() < deadline
        got += http.get(url, timeout=10).text
    rss0 = rss_bytes(server.proc.popen.pid)
    flood(user_room(world.alice.pk), 1, FLOOD_EVENTS)  # no GET meanwhile: it queues on the server
    wait_cut_off(server)
    assert rss_bytes(server.proc.popen.pid) - rss0 < 4 * 1024 * 1024
    answer = http.get(url, timeout=10)
    if answer.status_code == 200:  # the GET found the ended session's last (empty) answer
        answer = http.get(url, timeout=10)
    assert answer.status_code == 400, answer.text
    no_traceback(server)


# --- /ws/rooms/ ------------------------------------------------------------------------------------


def test_a_plain_ws_rooms_client_that_stops_reading_is_closed_and_replays_on_return(world, server):
    room = user_room(world.alice.pk)
    token = world.token(world.alice)
    slow = RoomStreamClient(server.url, token=token)
    slow.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    slow.wait_type("welcome")
    flood(room, 1, FLOOD_EVENTS)
    wait_cut_off(server)
    try:
        code = slow.wait_close(timeout=30)
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        code = None  # dropped after the drain time
    assert code in (4008, None), code
    got = slow.events("test_event")
    assert got, "the flood's first events reached it before it stopped reading"
    meta = got[-1]["data"]["_meta"]
    again = RoomStreamClient(server.url, token=token)
    again.wait_type("welcome")
    again.send({"type": "subscribe", "room": room, "namespace": "/", "last_seq": meta["seq"], "epoch": meta["epoch"]})
    again.wait_type("subscribed", room=room)
    numbers = [f["data"]["n"] for f in got] + [f["data"]["n"] for f in again.events("test_event")]
    assert numbers == list(range(1, FLOOD_EVENTS + 1))
    again.close()
    no_traceback(server)


# --- recovery with socket.io-client ------------------------------------------------------------------


class NodeClient:
    def __init__(self, server: LiveServer, token: str) -> None:
        node = shutil.which("node")
        assert node, "node is required (make test installs the npm packages)"
        env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "SERVER_URL": server.url, "TOKEN": token}
        self.proc = subprocess.Popen(
            [node, str(BASE_DIR / "realtime/tests/node/slow_consumer.mjs")],
            env=env,
            cwd=BASE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: list[dict] = []

    def tell(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait(self, predicate, timeout: float = 60) -> dict:
        for line in self.lines:
            if predicate(line):
                return line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = self.proc.stdout.readline()  # the client prints a line for everything it reports
            if not raw:
                raise AssertionError(f"node client exited ({self.proc.wait()}): {self.lines[-5:]}")
            line = json.loads(raw)
            self.lines.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"node client: not reached in {timeout}s; {self.lines[-5:]}")

    def report(self) -> dict:
        self.tell("report")
        self.lines = [line for line in self.lines if "report" not in line]
        return self.wait(lambda line: "report" in line)["report"]

    def close(self) -> None:
        try:
            self.tell("exit")
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def test_socket_io_client_cut_off_mid_flood_reconnects_and_gets_every_event_once_in_order(world, server):
    room = user_room(world.alice.pk)
    client = NodeClient(server, world.token(world.alice))
    try:
        client.wait(lambda line: line.get("connected") == 1)
        flood(room, 1, 20)  # read normally
        wait_until(lambda: len(client.report()["received"]) == 20, timeout=20, what="the first 20 events")
        client.tell("pause")
        client.wait(lambda line: line.get("paused"))
        flood(room, 21, FLOOD_EVENTS)  # mid-flood for this client: it reads nothing of it
        wait_cut_off(server)
        client.tell("resume")
        cut = client.wait(lambda line: "disconnect" in line)
        assert cut["disconnect"] == "transport close", cut
        client.wait(lambda line: line.get("connected") == 2)  # reconnected by itself, with its positions
        total = 20 + FLOOD_EVENTS
        wait_until(
            lambda: len(client.report()["received"]) >= total, timeout=30, what=f"{total} events after reconnecting"
        )
        report = client.report()
        assert [n for _, _, n in report["received"]] == list(range(1, total + 1))  # once each, in order
        assert [seq for _, seq, _ in report["received"]] == sorted({seq for _, seq, _ in report["received"]})
        assert not report["resyncs"]
    finally:
        client.close()
