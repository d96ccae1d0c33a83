"""What python-engineio keeps for every open connection, made smaller (issue 16: RSS per idle
connection). Same behaviour; measured in docs/benchmarks.md ("Connection cost").

* **No class per request.** python-engineio's ASGI `translate_request` defines its request-body
  class (`AwaitablePayload`) inside the function, so every request creates a new class, and
  python-socketio keeps each connection's environ (with that object in it) for the connection's
  life: a type object, its dict and methods per connection, about 2.5 KiB. `translate_request`
  here builds the environ the same way and puts a `RequestBody` (one module-level class, the
  same reading rules) in it.
* **No task per connection for pings.** python-engineio starts a task per connection that
  sleeps `ping_interval` and sends a PING, again after every PONG. `Pinger` keeps the sockets
  due for a ping in one FIFO (the interval is the same for all, so it stays in due order) and
  one task per process sends the pings that are due: the same timing, without a task, a
  coroutine, a future and a timer handle per idle connection."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

from engineio import packet as eio_packet
from engineio.async_drivers import asgi as eio_asgi

log = logging.getLogger(__name__)


class RequestBody:
    """python-engineio's AwaitablePayload (engineio/async_drivers/asgi.py), as one class."""

    __slots__ = ("event", "payload", "receive")

    def __init__(self, event: dict, receive: Any) -> None:
        self.event = event
        self.payload: bytes | None = None
        self.receive = receive

    async def read(self, length: int | None = None) -> bytes:
        if self.payload is None and self.event["type"] == "http.request":
            self.payload = self.event.get("body") or b""
            while self.event.get("more_body"):
                self.event = await self.receive()
                if self.event["type"] == "http.request" and (length is None or len(self.payload) < length):
                    self.payload += self.event.get("body") or b""
        payload = self.payload or b""
        if length is None:
            self.payload = b""
            return payload
        self.payload = payload[length:]
        return payload[:length]


async def translate_request(scope: dict, receive: Any, send: Any) -> dict:
    """python-engineio's, with a RequestBody for its per-request class. The first event is read
    here and handed to the library's function, which reads it from `receive` as usual."""
    first = await receive()
    replayed = False

    async def receive_first() -> dict:
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await receive()

    environ = await eio_asgi.translate_request(scope, receive_first, send)
    if "wsgi.input" in environ:
        environ["wsgi.input"] = RequestBody(first, receive)
        environ["asgi.receive"] = receive
    return environ


class Pinger:
    """One task per event loop sends the pings python-engineio would send from a task per socket."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.due: collections.deque[tuple[float, Any]] = collections.deque()
        self.wakeup: asyncio.Event | None = None
        self.task: asyncio.Task | None = None

    def schedule(self, socket: Any) -> None:
        """Ping `socket` one interval from now (python-engineio's `_send_ping`, without its task)."""
        self.due.append((time.monotonic() + self.interval, socket))
        if self.task is None or self.task.done():
            self.wakeup = asyncio.Event()
            self.task = asyncio.get_running_loop().create_task(self._run(), name="engine.io pings")
        elif len(self.due) == 1 and self.wakeup is not None:
            self.wakeup.set()

    async def _run(self) -> None:
        while True:
            if not self.due:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            delay = self.due[0][0] - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # until the first ping is due (a period, not a sync)
                continue
            now = time.monotonic()
            while self.due and self.due[0][0] <= now:
                _, socket = self.due.popleft()
                if socket.closing or socket.closed:
                    continue
                socket.last_ping = time.time()
                try:
                    await socket.send(eio_packet.Packet(eio_packet.PING))
                except Exception as exc:  # one socket's failure must not stop the others' pings
                    log.info("ping not sent sid=%s: %s", getattr(socket, "sid", "?"), exc.__class__.__name__)


def is_ping_task(target: Any) -> bool:
    """Is this python-engineio's per-socket ping coroutine function (AsyncSocket._send_ping)?"""
    return getattr(target, "__func__", None) is _SEND_PING and hasattr(target, "__self__")


def _send_ping_function() -> Any:
    from engineio.async_socket import AsyncSocket

    return AsyncSocket._send_ping


_SEND_PING = _send_ping_function()
