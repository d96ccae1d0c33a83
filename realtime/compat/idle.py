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
  coroutine, a future and a timer handle per idle connection.
* **Queues that cost nothing while empty.** An `asyncio.Queue` is four `collections.deque`s
  (items, getters, putters, and its join Event's waiters), about 3.4 KiB allocated up front, and
  each connection has two: python-engineio's packet queue and daphne's ASGI input queue.
  `LeanQueue` has the same interface (unbounded, one or more getters, task_done/join) and
  allocates its deque only while it holds items."""

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


class LeanQueue:
    """An unbounded asyncio.Queue that allocates nothing while it is empty and nobody waits."""

    __slots__ = ("_items", "_getters", "_unfinished", "_joined")

    def __init__(self) -> None:
        self._items: collections.deque | None = None
        self._getters: list[asyncio.Future] | None = None
        self._unfinished = 0
        self._joined: asyncio.Future | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return False

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = collections.deque()
        self._items.append(item)
        self._unfinished += 1
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        item = items.popleft()
        if not items:
            self._items = None
        return item

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if self._getters and getter in self._getters:
                    self._getters.remove(getter)
                if self._items and not getter.cancelled():
                    self._wake_next()  # it was woken for an item it will not take
                raise
            finally:
                if self._getters is not None and not self._getters:
                    self._getters = None
        return self.get_nowait()

    def _wake_next(self) -> None:
        for getter in self._getters or ():
            if not getter.done():
                getter.set_result(None)
                return

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._joined is not None:
            if not self._joined.done():
                self._joined.set_result(None)
            self._joined = None

    async def join(self) -> None:
        if self._unfinished:
            if self._joined is None:
                self._joined = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._joined)


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
