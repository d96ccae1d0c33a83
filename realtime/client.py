"""A small Python client for our server (python-socketio underneath) that does the bookkeeping
of at-least-once delivery: it remembers the last sequence number and epoch it saw per room,
sends them when it (re)connects so the server replays what it missed, drops duplicates, and
records `resync_required` so the caller reloads state over HTTP. Events are handled one at a
time, in the order the server sent them (see `InOrder`).

    client = RealtimeClient("http://localhost:8000", token=jwt)
    client.on("agent_progress", handler)         # handler(data) gets each event once
    client.connect(namespaces=["/"])
    client.call("subscribe_project", {"project_id": 1})
    client.wait_for("agent_status", lambda d: d["status"] == "success", timeout=10)
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import socketio
from engineio import payload as eio_payload

from realtime.ids import parse_id

META = "_meta"

# python-engineio's client refuses a long-polling response of more than 16 packets ("Unexpected
# packet from server, aborting") and reconnects, forever, when a replay queues more than that for
# it. The limit protects a server from clients; a client trusts its server's batches.
MAX_PACKETS_PER_POLL = 10_000
if eio_payload.Payload.max_decode_packets < MAX_PACKETS_PER_POLL:
    eio_payload.Payload.max_decode_packets = MAX_PACKETS_PER_POLL


def serial(name: str, logger: Any) -> Callable[..., None]:
    """`submit(fn, *args)`: run the callables one at a time, in the order given, on one thread
    (a one-worker ThreadPoolExecutor); an exception is logged, as python-engineio's own thread per
    message would, and the next callable runs."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def run(fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            logger.exception("%s: handler error", name)

    def submit(fn: Callable[..., Any], *args: Any) -> None:
        executor.submit(run, fn, *args)

    return submit


class InOrder:
    """python-socketio's handling of Engine.IO messages, one at a time, in arrival order.

    python-engineio's threaded client starts a thread per received message
    (`_trigger_event('message', ..., run_async=True)`), so two events that arrive together can be
    handled in either order: a room's seq 9 before its seq 8, and 8 then dropped as a duplicate
    (found by tests/test_fault_outbox.py, where the outbox relay publishes a burst). Installed on
    the client's public `start_background_task`: the message handler goes to one `serial`
    thread; every other task (the read and write loops) starts as before. A handler that blocked
    on `call()` there would wait for an ack queued behind it, so `RealtimeClient.on` handlers run
    on a `serial` thread of their own."""

    def __init__(self, eio: Any) -> None:
        self._eio = eio
        self._spawn = eio.start_background_task
        self._submit = serial("realtime-client-messages", eio.logger)
        eio.start_background_task = self.start_background_task

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if kwargs or target != self._eio.handlers.get("message"):
            return self._spawn(target, *args, **kwargs)
        self._submit(target, *args)
        return None


# The client events that join or leave a room (their ack carries the room).
SUBSCRIBE_EVENTS = ("subscribe", "subscribe_project")
UNSUBSCRIBE_EVENTS = ("unsubscribe", "unsubscribe_project")


class Timeout(AssertionError):
    pass


class RealtimeClient:
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        query_token: str | None = None,
        headers: dict[str, str] | None = None,
        path: str = "socket.io",
        transports: list[str] | None = None,
        reconnection: bool = True,
    ) -> None:
        self.url = url
        self.token = token
        self.query_token = query_token
        self.headers = headers or {}
        self.path = path
        self.transports = transports
        self.sio = socketio.Client(reconnection=reconnection, reconnection_delay=0.2, reconnection_delay_max=1)
        InOrder(self.sio.eio)
        self._callbacks = serial("realtime-client-handlers", self.sio.logger)
        self.positions: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # ns -> room -> {seq, epoch}
        self.events: list[tuple[str, str, Any]] = []  # (namespace, event, data), after dedupe
        self.duplicates = 0
        self.resyncs: list[tuple[str, dict]] = []
        self.connect_errors: list[Any] = []
        self.disconnects = 0
        self._handlers: dict[str, list[Callable[[Any], None]]] = defaultdict(list)
        self._cond = threading.Condition()
        self._namespaces: list[str] = []
        # Rooms left (unsubscribe acknowledged), per namespace: an event of theirs still in flight
        # must not bring their position back, or a reconnect would join them again.
        self._left: dict[str, set[str]] = defaultdict(set)

    # --- connection --------------------------------------------------------------------------------

    def _auth(self) -> dict[str, Any]:
        with self._cond:
            seen = {ns: dict(rooms) for ns, rooms in self.positions.items() if rooms}
        auth: dict[str, Any] = {"last_seen_by_namespace": seen}
        if self.token:
            auth["token"] = self.token
        return auth

    def connect(self, namespaces: list[str] | None = None, wait_timeout: float = 10) -> RealtimeClient:
        self._namespaces = namespaces or ["/"]
        for ns in self._namespaces:
            self.sio.on("*", self._make_catch_all(ns), namespace=ns)
            self.sio.on("connect_error", self._make_connect_error(ns), namespace=ns)
            self.sio.on("disconnect", self._on_disconnect, namespace=ns)
        return self._open(wait_timeout)

    def _open(self, wait_timeout: float) -> RealtimeClient:
        url = self.url + (f"?token={self.query_token}" if self.query_token else "")
        self.sio.connect(
            url,
            namespaces=self._namespaces,
            auth=self._auth,
            headers=self.headers,
            socketio_path=self.path,
            transports=self.transports,
            wait_timeout=wait_timeout,
        )
        return self

    def disconnect(self) -> None:
        self.sio.disconnect()

    def reconnect(self, wait_timeout: float = 10) -> RealtimeClient:
        """Connect again after disconnect(), sending the last position seen per room: the
        server replays what was missed (or sends resync_required) before live events."""
        return self._open(wait_timeout)

    def _make_connect_error(self, ns: str) -> Callable:
        def handler(data: Any = None) -> None:
            with self._cond:
                self.connect_errors.append(data)
                self._cond.notify_all()

        return handler

    def _on_disconnect(self, *args: Any) -> None:
        with self._cond:
            self.disconnects += 1
            self._cond.notify_all()

    def _make_catch_all(self, ns: str) -> Callable:
        def handler(event: str, data: Any = None) -> None:
            self._receive(ns, event, data)

        return handler

    def _receive(self, ns: str, event: str, data: Any) -> None:
        with self._cond:
            meta = data.get(META) if isinstance(data, dict) else None
            if meta:
                pos = self.positions[ns].get(meta["room"])
                if pos and pos["epoch"] == meta["epoch"] and meta["seq"] <= pos["seq"]:
                    self.duplicates += 1
                    return
                if meta["room"] not in self._left[ns]:
                    self.positions[ns][meta["room"]] = {"seq": meta["seq"], "epoch": meta["epoch"]}
            if event == "resync_required":  # reload; the room's next event is taken whatever its seq
                self.resyncs.append((ns, data))
                self.positions[ns].pop(data.get("room"), None)
            if event == "connected" and isinstance(data, dict) and isinstance(data.get("positions"), dict):
                # where the rooms joined on connect stood: a room we have no position for (never
                # got an event in it) is replayed from there when we reconnect
                for room, pos in data["positions"].items():
                    if room in self._left[ns]:
                        continue
                    if room not in self.positions[ns] and isinstance(pos, dict) and "seq" in pos:
                        self.positions[ns][room] = {"seq": pos["seq"], "epoch": pos.get("epoch")}
            self.events.append((ns, event, data))
            self._cond.notify_all()
        for fn in self._handlers.get(event, []):
            self._callbacks(fn, data)

    # --- use ---------------------------------------------------------------------------------------

    def on(self, event: str, fn: Callable[[Any], None]) -> None:
        self._handlers[event].append(fn)

    def emit(self, event: str, data: Any, namespace: str = "/") -> None:
        self.sio.emit(event, data, namespace=namespace)

    def call(self, event: str, data: Any, namespace: str = "/", timeout: float = 10) -> Any:
        if event in SUBSCRIBE_EVENTS:
            with self._cond:  # joining again: its events count from here
                self._left[namespace].discard(self._room_of(event, data))
        answer = self.sio.call(event, data, namespace=namespace, timeout=timeout)
        if event in UNSUBSCRIBE_EVENTS and isinstance(answer, dict) and answer.get("ok") and answer.get("room"):
            with self._cond:  # left: not to be joined again on reconnect
                self.positions[namespace].pop(answer["room"], None)
                self._left[namespace].add(answer["room"])
            return answer
        if isinstance(answer, dict) and answer.get("ok") and answer.get("room") and isinstance(answer.get("seq"), int):
            with self._cond:  # a snapshot's position (seq 0 too): later events apply on top of it
                current = self.positions[namespace].get(answer["room"])
                if current is None or current["epoch"] != answer.get("epoch"):
                    self.positions[namespace][answer["room"]] = {"seq": answer["seq"], "epoch": answer.get("epoch")}
        return answer

    @staticmethod
    def _room_of(event: str, data: Any) -> str | None:
        if not isinstance(data, dict):
            return None
        if event.endswith("_project"):
            project_id = parse_id(data.get("project_id"))
            return f"project:{project_id}" if project_id is not None else None
        room = data.get("room")
        return room if isinstance(room, str) else None  # anything else: the server refuses it

    def received(self, event: str | None = None, namespace: str | None = None) -> list[Any]:
        with self._cond:
            return [
                d
                for ns, e, d in self.events
                if (event is None or e == event) and (namespace is None or ns == namespace)
            ]

    def wait_for(
        self,
        event: str,
        predicate: Callable[[Any], bool] | None = None,
        *,
        timeout: float = 10,
        namespace: str | None = None,
        count: int = 1,
    ) -> Any:
        """Wait until `count` matching events were received; returns the last one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hits = [
                    d
                    for ns, e, d in self.events
                    if e == event and (namespace is None or ns == namespace) and (predicate is None or predicate(d))
                ]
                if len(hits) >= count:
                    return hits[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [e for _, e, _ in self.events][-20:]
                    raise Timeout(f"no {event!r} (x{count}) within {timeout}s; last events: {seen}")
                self._cond.wait(left)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout(f"{what} not reached within {timeout}s")
                self._cond.wait(left)
