"""Helpers of the revocation tests (issue 17): time a change until its effect on a live client,
and check that nothing of a room arrives after the client lost it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from testing.counts import record_counts
from testing.waits import drain

# The promise: a change reaches the live connections within a second.
EFFECT_LIMIT_SECONDS = 1.0

# change -> effect times of this run, per case (printed in the run's summary via record_counts)
timings: dict[str, float] = {}


def timed(case: str, change: Callable[[], Any], effect: Callable[[float], Any], *, timeout: float = 5) -> Any:
    """Make `change`, wait for `effect(timeout)`; record and check the time between them."""
    start = time.monotonic()
    change()
    result = effect(timeout)
    elapsed = time.monotonic() - start
    timings[case] = elapsed
    record_counts(f"revocation {case}", {"change_to_effect_ms": round(elapsed * 1000, 1)})
    assert elapsed < EFFECT_LIMIT_SECONDS, f"{case}: {elapsed:.3f}s from change to effect"
    return result


def error_of(client: Any, code: str, room: str | None = None) -> Callable[[float], dict]:
    """The effect: `client` (realtime.client.RealtimeClient) got `error {code, room?}`."""

    def wait(timeout: float) -> dict:
        return client.wait_for(
            "error", lambda e: e["code"] == code and (room is None or e.get("room") == room), timeout=timeout
        )

    return wait


def closed_with(client: Any, code: str) -> Callable[[float], dict]:
    """The effect: `client` got `error {code}` and was disconnected by the server."""

    def wait(timeout: float) -> dict:
        error = error_of(client, code)(timeout)
        client.wait_until(lambda: client.disconnects >= 1, timeout=timeout, what="disconnected")
        return error

    return wait


def room_events_after_error(client: Any, room: str, code: str) -> list[Any]:
    """What `client` received from `room` after its `error {code}`."""
    events = client.received()
    index = next(i for i, e in enumerate(events) if isinstance(e, dict) and e.get("code") == code)
    return [e for e in events[index + 1 :] if isinstance(e, dict) and e.get("_meta", {}).get("room") == room]


def assert_room_silent(client: Any, room: str, code: str, *, witness: Any, sentinel_room: str) -> None:
    """An event sent to `room` now reaches `witness` (still allowed) but not `client`; checked
    after a marker sent to `sentinel_room` (one `client` is still in) arrived, or after the witness
    got it when `client` is closed."""
    from realtime.emit import emit

    emit("test_event", {"n": 424242, "source": "after-revocation"}, room=room)
    witness.wait_for("test_event", lambda d: d.get("n") == 424242 and d["_meta"]["room"] == room, timeout=10)
    if client.sio.connected:
        drain(client, sentinel_room)
    assert room_events_after_error(client, room, code) == []


class NodeClient:
    """realtime/tests/node/revocation_client.mjs (the official socket.io-client under Node) in a
    process of its own; its JSON lines are read by a thread and waited for with a timeout."""

    def __init__(self, url: str, token: str, project_id: int) -> None:
        import queue
        import shutil
        import subprocess
        import threading

        from testing import BASE_DIR

        node = shutil.which("node")
        assert node, "node is required for the JS client tests (make test installs the npm packages)"
        env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "SERVER_URL": url, "TOKEN": token, "PROJECT_ID": str(project_id)}
        self.proc = subprocess.Popen(
            [node, str(BASE_DIR / "realtime/tests/node/revocation_client.mjs")],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        import json

        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self._queue.put(json.loads(raw))
            except ValueError:
                self._queue.put({"type": "output", "text": raw.strip()})
        self._queue.put({"type": "exit"})

    def wait_for(self, predicate: Callable[[dict], bool], *, timeout: float = 10, what: str = "line") -> dict:
        import queue

        for line in self.lines:
            if predicate(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(0.0, left))
            except queue.Empty:
                raise AssertionError(
                    f"no {what} from the Node client within {timeout}s; got {self.lines[-10:]}"
                ) from None
            self.lines.append(line)
            if predicate(line):
                return line
            if line["type"] == "exit":
                raise AssertionError(f"the Node client exited while waiting for {what}; got {self.lines[-10:]}")

    def after(self, line: dict) -> list[dict]:
        return self.lines[self.lines.index(line) + 1 :]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(5)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
