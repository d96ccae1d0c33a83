"""Slow consumers: a bound on what the server holds for one connection, and the cut-off past it.

A client that stops reading (a phone in a tunnel, a frozen tab, a socket opened on purpose and
never read) leaves what the server sends it in the server's memory: Twisted's transport buffer
behind daphne (`transport.write` keeps what the kernel did not take), autobahn's send queue,
python-engineio's packet queue (long-polling and upgrading connections; the WebSocket writer's
backlog), a `/ws/rooms/` consumer's frames. Nothing bounded any of it.

Here each connection may hold at most `settings.SOCKETIO_MAX_BUFFERED_BYTES` not yet sent,
counted after the kernel took what it can (what Twisted buffered within one loop turn is pushed
to the socket first, so a burst to a client that reads is not held against it). Senders that can
wait do (flow control): python-engineio's `socket.send` (a replay, python-socketio's own sends)
and the `/ws/rooms/` reader wait while the connection holds more than half the bound (LOW_WATER),
for at most DRAIN_SECONDS; room events on the fast path cannot wait for one client, so a
connection they would take over the bound is cut off at once:

* `BoundedQueue`     python-engineio's per-socket queue (RealtimeEngineServer.create_queue),
                     counting the bytes of the packets it holds, plus what the connection's
                     transport holds (`outside`, set by the WebSocket);
* `unsent(protocol)` what Twisted and autobahn still hold for a daphne WebSocket connection;
                     the fast path's direct writer checks it before each frame, the ASGI
                     WebSocket after each send, the `/ws/rooms/` consumer after each frame;
* `cut_off(socket)`  a connection over the bound: nothing more is queued for it, a WebSocket
                     gets close code 4008 with the reason `slow_consumer` after what is already
                     buffered (dropped `CLOSE_SECONDS` later if it still does not read), the
                     Engine.IO session ends (long-polling: its next request is told the
                     session is gone; the endings of many connections cut off together are
                     spread over loop turns), and it is counted (`slow_consumer_disconnects`) and
                     logged once, with the user and the room, never the payload.

Recovery is the client's reconnection with its last positions: the replay log gives it what it
missed, in order (docs/clients.md). One event larger than the bound still reaches a connection
that has nothing else pending."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import select
from collections import deque
from collections.abc import Callable
from typing import Any

from django.conf import settings

from realtime import metrics
from realtime.compat.idle import LeanQueue

log = logging.getLogger(__name__)

LIMIT: int = settings.SOCKETIO_MAX_BUFFERED_BYTES
CLOSE_CODE = 4008
CLOSE_REASON = "slow_consumer"
COUNTER = "slow_consumer_disconnects"
# Senders that can wait (a replay, python-socketio's own sends, the /ws/rooms/ reader) wait while
# the connection holds more than this share of the bound, at most DRAIN_SECONDS, then cut it off.
LOW_WATER: int = LIMIT // 2
DRAIN_SECONDS = 2.0
DRAIN_POLL_SECONDS = 0.01
# After the close frame: the time a cut-off client has to read what was buffered before it (then
# the connection is dropped, its buffer freed). What it holds meanwhile is within the bound.
CLOSE_SECONDS = 5.0

# The room being delivered to when a connection goes over its bound (for the log line).
delivering_room: contextvars.ContextVar[str | None] = contextvars.ContextVar("delivering_room", default=None)

# Work of cut-off connections (ending sessions, dropping connections), one at a time with a loop
# turn between two: when many clients fall behind together (all in one busy room), the others'
# deliveries go on in between instead of waiting for all of it.
_jobs: deque[Callable[[], Any]] = deque()
_worker: asyncio.Task | None = None


def _nothing() -> int:
    return 0


def packet_size(pkt: Any) -> int:
    """About what an Engine.IO packet takes on the wire (its text or bytes, plus its type)."""
    data = getattr(pkt, "data", None)
    if isinstance(data, str | bytes):
        return len(data) + 1
    return 64  # OPEN's dict, PING, NOOP, CLOSE


class BoundedQueue(LeanQueue):
    """python-engineio's packet queue for one socket (a LeanQueue: nothing allocated while it is
    empty), counting the bytes it holds. When those plus what the transport holds (`outside`) go
    over the bound, it drops what it holds and everything after (but the None that stops the
    writer) and calls `on_overflow(queue)`."""

    __slots__ = ("nbytes", "outside", "on_overflow", "overflowed")

    def __init__(self) -> None:
        super().__init__()
        self.nbytes = 0
        self.outside: Callable[[], int] = _nothing
        self.on_overflow: Callable[[BoundedQueue], None] | None = None
        self.overflowed = False

    def get_nowait(self) -> Any:
        item = super().get_nowait()
        if item is not None:
            self.nbytes -= packet_size(item)
        return item

    async def put(self, item: Any) -> None:
        """A sender that can wait (python-engineio's `socket.send`: replays, python-socketio's own
        sends, pings) waits while the connection holds more than LOW_WATER; a connection that does
        not drain within DRAIN_SECONDS is cut off."""
        if item is not None and not self.overflowed and self.nbytes + self.outside() > LOW_WATER:
            if not await wait_drained(lambda: self.nbytes + self.outside(), lambda: self.overflowed):
                self.overflow()
                return
        self.put_nowait(item)

    def put_nowait(self, item: Any) -> None:
        if self.overflowed and item is not None:
            return  # cut off: nothing more is kept for this connection
        before = self.nbytes
        if item is not None:
            self.nbytes += packet_size(item)
        super().put_nowait(item)
        if item is not None and self.nbytes + self.outside() > LIMIT and before + self.outside() > 0:
            self.overflow()

    def overflow(self) -> None:
        if self.overflowed:
            return
        self.overflowed = True
        self.clear()
        if self.on_overflow is not None:
            self.on_overflow(self)

    def clear(self) -> None:
        while not self.empty():
            self.get_nowait()
            self.task_done()


# --- daphne's connection -----------------------------------------------------------------------


def daphne_protocol(send: Any) -> Any:
    """autobahn's protocol behind an ASGI send callable from daphne, through Channels' wrappers."""
    for _ in range(8):
        if isinstance(send, functools.partial):
            return next((a for a in send.args if hasattr(a, "sendPreparedMessage")), None)
        owner = getattr(send, "__self__", None)
        send = getattr(owner, "real_send", None)  # channels.sessions.InstanceSessionWrapper
        if send is None:
            return None
    return None


def unsent(protocol: Any) -> int:
    """Bytes Twisted's transport and autobahn's send queue hold for a connection, not yet sent."""
    transport = protocol.transport
    if transport is None:
        return 0
    held = len(getattr(transport, "dataBuffer", b"")) - getattr(transport, "offset", 0)
    held += getattr(transport, "_tempDataLen", 0)
    for data, _sync in protocol.send_queue:
        held += len(data)
    return held


def unsent_probe(send: Any) -> Callable[[], int] | None:
    """`unsent` for the connection behind an ASGI send (None under a server other than daphne)."""
    protocol = daphne_protocol(send)
    if protocol is None or not hasattr(protocol, "send_queue"):
        return None
    return functools.partial(unsent, protocol)


def push(protocol: Any) -> None:
    """Hand what Twisted buffered for a connection to the kernel now (it does so when the loop
    next polls the socket): bytes written within one loop turn are not held against a client
    that reads. Stops when the kernel takes no more."""
    transport = protocol.transport
    do_write = getattr(transport, "doWrite", None)
    if do_write is None or not getattr(transport, "connected", False) or getattr(transport, "disconnecting", True):
        return
    if not _writable(transport):
        return  # the kernel takes nothing (a client that does not read): no copy of what is held
    held = unsent(protocol)
    while held:
        if do_write() is not None:  # the connection is lost: Twisted's own loop reports it
            return
        now = unsent(protocol)
        if now >= held:
            return
        held = now


def _writable(transport: Any) -> bool:
    """Would the kernel take bytes for this connection now? (Twisted's doWrite would first join
    everything it holds into one copy: not worth it for a socket whose send buffer is full.)"""
    sock = getattr(transport, "socket", None)
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    return bool(poller.poll(0))


async def wait_drained(held: Callable[[], int], gone: Callable[[], bool] = lambda: False) -> bool:
    """Wait until `held()` is at most LOW_WATER (True), or DRAIN_SECONDS passed (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    while held() > LOW_WATER:
        if gone():
            return True  # nothing to wait for any more
        if loop.time() > deadline:
            return False
        await asyncio.sleep(DRAIN_POLL_SECONDS)  # the transport gives no event when it drains
    return True


def close_slow(protocol: Any) -> None:
    """Close a daphne WebSocket with 4008 slow_consumer, after what it already buffered; drop
    it CLOSE_SECONDS later if the client has not read that far."""
    if protocol is None or protocol.state != protocol.STATE_OPEN:
        return
    protocol.closeHandshakeTimeout = 0  # not autobahn's timer: ours drops them one at a time
    protocol.sendClose(CLOSE_CODE, CLOSE_REASON)
    asyncio.get_running_loop().call_later(CLOSE_SECONDS, _later, functools.partial(_drop, protocol))


def _drop(protocol: Any) -> None:
    if protocol.state != protocol.STATE_CLOSED:
        protocol.wasClean = False
        protocol.wasNotCleanReason = "slow consumer: did not read up to the close frame"
        protocol.dropConnection(abort=True)


# --- cutting off an Engine.IO connection ----------------------------------------------------------


def report(via: str, user: Any, room: str | None) -> None:
    metrics.incr(COUNTER)
    log.warning(
        "disconnect slow consumer via=%s user=%s room=%s: over SOCKETIO_MAX_BUFFERED_BYTES=%d not yet sent",
        via,
        user,
        room,
        LIMIT,
    )


def cut_off(socket: Any) -> None:
    """End an Engine.IO connection that holds more than the bound (see the module docstring)."""
    if getattr(socket, "slow", False) or socket.closed:
        return
    socket.slow = True
    queue = socket.queue
    if isinstance(queue, BoundedQueue):
        queue.overflowed = True  # nothing more is kept for it from here
        queue.clear()
    _later(functools.partial(_close, socket, delivering_room.get()))


def _close(socket: Any, room: str | None) -> Any:
    """The rest of a cut-off, as a job (`_later`): the close frame, the report, the session's end."""
    writer = getattr(socket, "direct_writer", None)
    if writer is not None:
        writer.flush()  # the frames it batched go before the close frame
    close_slow(getattr(socket, "ws_protocol", None))
    server = socket.server
    hook = getattr(server, "on_slow_consumer", None)
    if hook is None:
        report("engineio", None, room)
    else:
        hook(socket.sid, room)
    return _end(server, socket)


def _later(job: Callable[[], Any]) -> None:
    global _worker
    _jobs.append(job)
    if _worker is None or _worker.done():
        _worker = asyncio.get_running_loop().create_task(_run_jobs(), name="slow consumers")


async def _run_jobs() -> None:
    while _jobs:
        job = _jobs.popleft()
        try:
            result = job()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("ending a slow consumer's connection failed")
        await asyncio.sleep(0)


async def _end(server: Any, socket: Any) -> None:
    """The session ends now (disconnect handlers, connection lease), as a lost connection does:
    the client reconnects by itself (after an Engine.IO CLOSE it would not)."""
    try:
        await socket.close(wait=False, abort=True, reason=server.reason.SERVER_DISCONNECT)
    finally:
        socket.queue.put_nowait(None)  # the WebSocket writer ends; a waiting poll gets nothing
        server.sockets.pop(socket.sid, None)
