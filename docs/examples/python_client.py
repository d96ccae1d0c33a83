"""A Python service following its rooms with replay, on plain python-socketio (no project code).

    python docs/examples/python_client.py http://localhost:8000 <JWT>

It keeps the last `_meta` {seq, epoch} it saw per room, sends them as `auth.last_seen` whenever
it (re)connects so the server replays what it missed, drops duplicates, and reloads state over
HTTP when the server says `resync_required`. The demo at the bottom shows a replay: it asks the
server for an event (`echo`), goes away, has two more sent while it is away, comes back, and gets
exactly those two. It prints a JSON summary.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import socketio


class ReplayingClient:
    def __init__(self, url: str, token: str, namespace: str = "/") -> None:
        self.url, self.token, self.namespace = url, token, namespace
        self.positions: dict[str, dict[str, Any]] = {}  # room -> {seq, epoch}; persist it in real use
        self.events: list[tuple[str, dict]] = []
        self.duplicates = 0
        self._cond = threading.Condition()
        self.sio = socketio.Client(reconnection=True)
        self.sio.on("*", self._on_event, namespace=namespace)

    def _auth(self) -> dict[str, Any]:
        # Called on every connect and reconnect: the positions as of now.
        with self._cond:
            return {"token": self.token, "last_seen": {room: dict(pos) for room, pos in self.positions.items()}}

    def _on_event(self, event: str, data: Any = None) -> None:
        with self._cond:
            meta = data.get("_meta") if isinstance(data, dict) else None
            if meta:
                seen = self.positions.get(meta["room"])
                if seen and seen["epoch"] == meta["epoch"] and meta["seq"] <= seen["seq"]:
                    self.duplicates += 1  # already had it (a replay overlapping live delivery)
                    return
                self.positions[meta["room"]] = {"seq": meta["seq"], "epoch": meta["epoch"]}
            if event == "resync_required":
                # The replay log no longer reaches back: reload the room's state over HTTP, then
                # follow it from now on.
                self.positions.pop(data["room"], None)
            self.events.append((event, data))
            self._cond.notify_all()

    def connect(self) -> None:
        self.sio.connect(self.url, namespaces=[self.namespace], auth=self._auth, transports=["websocket"])

    def disconnect(self) -> None:
        self.sio.disconnect()

    def wait_for(self, event: str, predicate=lambda d: True, timeout: float = 10) -> dict:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(e == event and predicate(d) for e, d in self.events), timeout=timeout)
            if not ok:
                raise TimeoutError(f"no {event} within {timeout}s")
            return next(d for e, d in self.events if e == event and predicate(d))

    def call(self, event: str, data: dict) -> Any:
        return self.sio.call(event, data, namespace=self.namespace, timeout=10)


def demo(url: str, token: str) -> dict[str, Any]:
    client = ReplayingClient(url, token)
    client.connect()
    client.wait_for("connected")
    client.call("echo", {"n": 1})  # the server sends test_event {n: 1} to our user room
    first = client.wait_for("test_event", lambda d: d["n"] == 1)
    client.disconnect()

    other = socketio.Client()  # meanwhile, from elsewhere: two more events to the room
    other.connect(url, auth={"token": token}, transports=["websocket"])
    for n in (2, 3):
        other.call("echo", {"n": n}, timeout=10)
    other.disconnect()

    client.connect()  # sends last_seen: the server replays n=2 and n=3, in order
    client.wait_for("test_event", lambda d: d["n"] == 3)
    client.call("echo", {"n": 4})
    client.wait_for("test_event", lambda d: d["n"] == 4)
    client.disconnect()
    return {
        "received": [d["n"] for e, d in client.events if e == "test_event"],
        "room": first["_meta"]["room"],
        "duplicates": client.duplicates,
        "resyncs": [d for e, d in client.events if e == "resync_required"],
    }


if __name__ == "__main__":
    print(json.dumps(demo(sys.argv[1], sys.argv[2])))
