"""The numbered event stream of the fault tests, and what each client kept of it."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Stream:
    """Emits test_event {n: 1, 2, ...} to `rooms` from a thread, every `interval` seconds, until
    stopped; emits that fail (Redis down) are retried, so every number is sent exactly once."""

    rooms: list[str]
    interval: float = 0.01
    sent: int = 0
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _progress: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None

    def start(self) -> Stream:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        from realtime.emit import EmitError, emit

        n = 0
        while not self._stop.is_set():
            n += 1
            # Every room gets every number: a stop takes effect between numbers, never in the middle
            # of one (otherwise the last number reaches some rooms and not others).
            for room in self.rooms:
                while True:
                    try:
                        if self.failures and self._already_logged(room, n):
                            break
                        emit("test_event", {"n": n, "source": "stream"}, room=room, on_commit=False)
                        break
                    except EmitError:  # Redis is down: back off, then retry the same number
                        self.failures += 1
                        time.sleep(0.05)
            with self._progress:
                self.sent = n
                self._progress.notify_all()
            self._stop.wait(self.interval)

    @staticmethod
    def _already_logged(room: str, n: int) -> bool:
        """After a failed emit, whether it was published anyway (Redis ran the script, then the
        connection dropped before the reply): a careful producer checks before it retries."""
        from realtime import eventlog
        from realtime.redis import sync_client

        try:
            entries = sync_client().xrevrange(eventlog.log_key("/", room), count=1)
        except Exception:
            return False
        return bool(entries) and json.loads(entries[0][1][b"m"])["data"][0].get("n") == n

    def stop(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        return self.sent

    def wait_sent(self, n: int, timeout: float = 30) -> None:
        with self._progress:
            if not self._progress.wait_for(lambda: self.sent >= n, timeout):
                raise AssertionError(f"stream sent only {self.sent} of {n} events in {timeout}s")


def numbers(client, room: str, namespace: str = "/") -> list[int]:
    """The n of every test_event the client kept (after dedupe) for one room, in arrival order."""
    return [
        d["n"]
        for d in client.received("test_event", namespace=namespace)
        if d.get("_meta", {}).get("room") == room and d.get("source") == "stream"
    ]


def disconnect_all(clients: list) -> None:
    """Disconnect clients in parallel (a long-polling client's disconnect can wait for its poll)."""
    threads = [threading.Thread(target=c.disconnect, daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def wait_all_received(clients_rooms: list[tuple[object, str]], last: int, timeout: float = 30) -> None:
    """Wait until each (client, room) has kept test_event n == last; on a timeout, say what each
    client has (last numbers, disconnects, connection errors, resyncs)."""
    deadline = time.monotonic() + timeout
    for client, room in clients_rooms:
        try:
            client.wait_for(
                "test_event",
                lambda d, room=room: d.get("n") == last and d.get("_meta", {}).get("room") == room,
                timeout=max(0.1, deadline - time.monotonic()),
            )
        except AssertionError:
            report = [
                f"{room}: n={numbers(c, room)[-3:]} kept={len(numbers(c, room))} disconnects={c.disconnects} "
                f"connected={c.sio.connected} errors={c.connect_errors[-2:]} resyncs={c.resyncs[-2:]}"
                for c, room in clients_rooms
            ]
            raise AssertionError(f"not every client got n={last}:\n" + "\n".join(report)) from None
