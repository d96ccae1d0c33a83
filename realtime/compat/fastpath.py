"""The fast delivery path: room events reach many WebSocket clients at a fraction of the cost.

python-socketio delivers a room event by encoding the packet once, then creating one asyncio
task per recipient (`_send_eio_packet`) that puts it on the recipient's Engine.IO queue; each
socket's writer task wakes up through `asyncio.wait_for` (another task per wake-up), encodes the
Engine.IO packet again and hands it to the ASGI server, which (daphne) goes through Channels'
session wrapper, daphne's reply dispatch and autobahn's framing, per recipient. Profiled under
fan-out load that was most of the server's time (see docs/benchmarks.md).

Here, with the same semantics:
  * `local_delivery` (the delivery pipeline's last step): a room event is encoded once per room, into the
    Socket.IO packet, the Engine.IO packet and the WebSocket frame (an unmasked server frame is
    the same bytes for every recipient), then delivered to each recipient with a plain function
    call: no task per delivery, no await.
  * A recipient whose WebSocket has nothing waiting in its Engine.IO queue gets the frame
    written straight to its transport (`direct writer`, below); any other recipient (long
    polling, upgrading, packets already queued, a server we have no direct writer for) gets the
    packet on its queue, as python-engineio does it. So each connection's packets stay in order:
    the direct path is taken only when the queue is empty and nothing is in flight.
  * `FastSocket.poll` waits for the queue with `asyncio.timeout` instead of `wait_for` (no task
    per wake-up), and guarantees the "queue empty => nothing in flight" rule above: the writer
    takes packets off the queue and writes them without giving the loop a chance in between.
  * `FastWebSocket` (the ASGI WebSocket of python-engineio) writes text frames through the direct
    writer too, so queued packets skip the per-message ASGI dispatch as well.

The direct writer exists for daphne (the server we ship): it finds autobahn's protocol behind
the ASGI `send` callable (Channels' session wrapper -> daphne's `partial(handle_reply, protocol)`)
and writes the prepared frame to the transport, which is what autobahn's `sendPreparedMessage`
does for an uncompressed connection (without its per-frame debug-log formatting), straight to
the socket when Twisted has nothing buffered for it (`_write_through`). It refuses (and the ASGI path is used) if the connection negotiated
permessage-deflate (daphne/autobahn refuse it by default), is not open, or has autobahn frames
queued. Under another ASGI server there is no direct writer and only the first and third
points apply.

`REALTIME_FASTPATH=0` in the environment turns all of this off (python-socketio's own path), for
comparison (`make bench` measures both) or if a library upgrade ever disagrees with it; it is off
by itself, with one warning at start, when the libraries are not the versions it was verified
with or a check of the internals it relies on fails (realtime.compat.guard, docs/internals.md).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import engineio
import socketio
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet

from realtime import metrics
from realtime.compat import backpressure, guard
from realtime.compat.engine import PollingSocket, RealtimeEngineServer, ValidatingWebSocket, use_websocket_class

log = logging.getLogger(__name__)

# On unless REALTIME_FASTPATH=0, the installed libraries are not the verified ones, or a check of
# what it relies on fails (realtime.compat.guard: one warning at start, naming the reason).
DECISION = guard.decide()
ENABLED: bool = DECISION.active


def status() -> dict[str, Any]:
    """Whether this process runs the fast path, and why not (ops: /metrics, the ops page)."""
    return {"active": ENABLED, "reason": DECISION.reason}


Writer = Callable[[bytes], bool]

# process counters (ops /metrics): WebSocket connections with and without the direct writer
DIRECT_WRITERS = "fastpath_direct_writers"
ASGI_WRITERS = "fastpath_asgi_writers"


def ws_text_frame(text: str) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 5.2), as a server sends it."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class Delivery:
    """One encoded event: the Engine.IO packet (for queues) and its WebSocket frame, built once."""

    __slots__ = ("eio_pkt", "frame")

    def __init__(self, socketio_text: str) -> None:
        self.eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, socketio_text)
        self.frame = ws_text_frame("4" + socketio_text)  # "4": Engine.IO MESSAGE


def deliver(socket: AsyncSocket, delivery: Delivery) -> None:
    """Send one encoded event to one Engine.IO socket, keeping the socket's packets in order."""
    if socket.closed:
        return
    writer: Writer | None = getattr(socket, "direct_writer", None)
    if writer is not None and socket.upgraded and not socket.upgrading and socket.queue.empty():
        if writer(delivery.frame):
            return
    socket.queue.put_nowait(delivery.eio_pkt)  # the queue is unbounded: never blocks


LocalDelivery = Callable[[str, Any, str, "str | None", Any], Awaitable[None]]
SendLogged = Callable[[str, str, dict], Awaitable[None]]

REPLAY_CACHE_SIZE = 4096  # encoded logged events kept for the next connections replaying them


def logged_delivery(manager: socketio.AsyncManager) -> SendLogged:
    """How a join sends one logged event (a message of the replay log, or one held back) to one
    connection: encoded once per (namespace, room, epoch, seq) and kept in a small LRU, so the
    thousands of connections of a reconnect storm that replay the same events of a room each get
    a cached frame with a plain call, not python-socketio's emit (an encode and a task each).
    python-socketio's own path when the fast path is off."""

    async def library(sid: str, namespace: str, msg: dict) -> None:
        await manager.emit(msg["event"], msg["data"][0], namespace=namespace, room=sid, ignore_queue=True)

    if not ENABLED:
        return library
    cache: collections.OrderedDict[tuple, Delivery | None] = collections.OrderedDict()

    async def send_logged(sid: str, namespace: str, msg: dict) -> None:
        meta = msg["data"][0].get("_meta") or {}
        key = (namespace, meta.get("room"), meta.get("epoch"), meta.get("seq"), msg["event"])
        delivery = cache.get(key, False)
        if delivery is False:
            encoded = manager.server.packet_class(
                sio_packet.EVENT, namespace=namespace, data=[msg["event"], msg["data"][0]]
            ).encode()
            delivery = None if isinstance(encoded, list) else Delivery(encoded)
            cache[key] = delivery
            if len(cache) > REPLAY_CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        eio_sid = manager.eio_sid_from_sid(sid, namespace)
        socket = manager.server.eio.sockets.get(eio_sid) if eio_sid is not None else None
        if delivery is None or socket is None:  # binary attachments, or the connection is going
            await library(sid, namespace, msg)
            return
        deliver(socket, delivery)

    return send_logged


def library_delivery(manager: socketio.AsyncManager) -> LocalDelivery:
    """python-socketio's own delivery to this process's clients (AsyncManager.emit: a task per
    recipient, the Engine.IO queue), for REALTIME_FASTPATH=0 and what the fast path can't take."""

    async def deliver(event: str, data: Any, namespace: str, room: str | None, skip_sid: Any) -> None:
        await socketio.AsyncManager.emit(manager, event, data, namespace=namespace, room=room, skip_sid=skip_sid)

    return deliver


def local_delivery(manager: socketio.AsyncManager) -> LocalDelivery:
    """How the delivery pipeline hands an event to this process's clients in a room: encoded
    once (the Socket.IO packet, the Engine.IO packet, the WebSocket frame), then a plain call
    per recipient (`deliver`); python-socketio's own path when the fast path is off."""
    library = library_delivery(manager)
    if not ENABLED:
        return library

    async def deliver_fast(event: str, data: Any, namespace: str, room: str | None, skip_sid: Any) -> None:
        if namespace not in manager.rooms:
            return
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        encoded = manager.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        if isinstance(encoded, list):  # binary attachments: python-socketio's own path
            return await library(event, data, namespace, room, skip_sid)
        delivery = Delivery(encoded)
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        sockets = manager.server.eio.sockets
        for sid, eio_sid in manager.get_participants(namespace, room):
            if sid in skip:
                continue
            socket = sockets.get(eio_sid)
            if socket is not None:
                deliver(socket, delivery)

    return deliver_fast


class FastSocket(PollingSocket):
    """python-engineio's socket with a writer that wakes up without creating a task."""

    async def poll(self) -> list[eio_packet.Packet]:
        queue = self.queue
        if queue.empty():
            try:
                async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                    first = await queue.get()
            except (TimeoutError, asyncio.CancelledError):
                raise eio_exceptions.QueueEmpty() from None
        else:
            first = queue.get_nowait()
        queue.task_done()
        if first is None:
            return []
        packets = [first]
        while not queue.empty():
            pkt = queue.get_nowait()
            queue.task_done()
            if pkt is None:
                queue.put_nowait(None)
                break
            packets.append(pkt)
        return packets


class FastWebSocket(ValidatingWebSocket):
    """python-engineio's ASGI WebSocket, with a direct writer when the server allows one."""

    direct: Writer | None = None

    def attach(self) -> AsyncSocket | None:
        socket = super().attach()
        if socket is not None:
            if type(socket) in (AsyncSocket, PollingSocket):
                # python-engineio builds AsyncSocket itself (realtime.compat.engine may have made it a
                # PollingSocket); FastSocket only changes poll() and adds no state, so the socket
                # can take that class for the rest of its life.
                socket.__class__ = FastSocket
            self.direct = direct_writer(self.asgi_send, functools.partial(backpressure.cut_off, socket))
            socket.direct_writer = self.direct
            # per connection (not per frame): a daphne/autobahn/channels change that leaves the
            # writer out shows in /metrics instead of only as a slowdown
            metrics.incr(DIRECT_WRITERS if self.direct is not None else ASGI_WRITERS)
        return socket

    def detach(self) -> None:
        super().detach()
        if self.socket is not None:
            self.socket.direct_writer = None

    def held(self) -> int:
        return super().held() + (self.direct.batch_size() if self.direct is not None else 0)

    async def send(self, message: str | bytes) -> None:
        if self.direct is not None:
            if isinstance(message, str) and self.direct(ws_text_frame(message)):
                return
            self.direct.flush()  # what the direct writer holds goes first
        await super().send(message)

    async def close(self) -> None:
        if self.direct is not None:
            self.direct.flush()
        await super().close()


class FastEngineServer(RealtimeEngineServer):
    """Our Engine.IO server (realtime.compat.engine) using FastWebSocket for the ASGI WebSocket transport."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_websocket_class(self, FastWebSocket)


def engine_server_class() -> type[engineio.AsyncServer]:
    return FastEngineServer if ENABLED else RealtimeEngineServer


# --- direct writers --------------------------------------------------------------------------------


def direct_writer(send: Any, overflow: Callable[[], None] = lambda: None) -> Writer | None:
    """A function that writes a prepared frame to the connection and returns True, or returns
    False when it can't (the caller then uses the ASGI path); None if this server has none.
    A frame that would take what the connection holds unsent over SOCKETIO_MAX_BUFFERED_BYTES
    is not written: `overflow()` is called (the connection is cut off) and True returned."""
    protocol = backpressure.daphne_protocol(send)
    transport = getattr(protocol, "transport", None)
    if transport is None or not hasattr(protocol, "send_queue"):
        return None
    state_open = protocol.STATE_OPEN
    write_through = _write_through(transport)
    batch: _Batch | None = getattr(write_through, "batch", None)
    limit = backpressure.LIMIT
    unsent = backpressure.unsent

    def over(size: int) -> bool:
        """Would `size` more bytes take what the connection holds over the bound, after the kernel
        took what it can? (the batch written out, Twisted's buffer pushed)"""
        if batch is not None:
            batch.flush()
        held = unsent(protocol)
        if held and held + size > limit:
            backpressure.push(protocol)
            held = unsent(protocol)
        if held and held + size > limit:
            return True
        if batch is not None:
            batch.budget = limit - held
        return False

    cut = False  # over the bound once: everything after is dropped (the connection is being closed)

    def write(frame: bytes) -> bool:
        nonlocal cut
        if cut:
            return True
        if protocol.state != state_open or protocol._perMessageCompress is not None or protocol.send_queue:
            flush_pending(write_through)
            return False
        if batch is not None:
            if not batch.frames:  # once per connection and loop turn: what Twisted already holds
                held = transport._tempDataLen or transport.dataBuffer
                batch.budget = limit - unsent(protocol) if held else limit
            if batch.size + len(frame) > batch.budget and over(len(frame)):
                cut = True
                overflow()
                return True
        elif over(len(frame)):
            cut = True
            overflow()
            return True
        write_through(frame)
        return True

    write.flush = functools.partial(flush_pending, write_through)  # type: ignore[attr-defined]
    write.batch_size = (lambda: batch.size) if batch is not None else (lambda: 0)  # type: ignore[attr-defined]
    return write


class _Batch:
    """Frames for one connection, written with one `send()` when the loop gets to `flush`."""

    __slots__ = ("frames", "size", "budget", "send", "fallback", "transport")

    def __init__(self, transport: Any) -> None:
        self.frames: list[bytes] = []
        self.size = 0
        self.budget = 0  # what the batch may hold this loop turn (direct_writer: the bound minus Twisted's)
        self.transport = transport
        self.send = transport.socket.send
        self.fallback = transport.write

    def flush(self) -> None:
        if not self.frames:
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        self.size = 0
        t = self.transport
        if t._tempDataLen or len(t.dataBuffer) > t.offset or not t.connected or t.disconnecting:
            self.fallback(data)
            return
        try:
            sent = self.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.fallback(data)  # Twisted's own write path reports and handles the error
            return
        if sent < len(data):
            self.fallback(data[sent:])


_dirty: list[_Batch] = []


def _flush_all() -> None:
    batches = _dirty[:]
    _dirty.clear()
    for batch in batches:
        batch.flush()


def flush_pending(writer: Any) -> None:
    """Write what `writer` still holds now (before anything goes to the connection another way)."""
    batch = getattr(writer, "batch", None)
    if batch is not None:
        batch.flush()


def _write_through(transport: Any) -> Callable[[bytes], None]:
    """Write to a Twisted TCP transport: frames wait until the loop is done with what it is
    running now (all the events that arrived together), then each connection gets one `send()`.

    Twisted's `transport.write` buffers and registers the socket for writability (two epoll_ctl
    calls and a reactor callback per connection and loop turn); asyncio's and libuv's transports
    try `send()` at once and buffer only what the kernel did not take. This does the latter, once
    per connection and loop turn: when Twisted has nothing buffered for the connection, `send()`,
    and hand any remainder (or everything, on EAGAIN or an error Twisted should see) to
    `transport.write`, which keeps the order because the remainder is then all that is buffered.
    Frames that must go out another way (FastWebSocket's ASGI path, close) flush this first.
    Anything but plain TCP (TLS, a transport without these attributes) uses `transport.write`."""
    sock = getattr(transport, "socket", None)
    plain_tcp = (
        sock is not None
        and not getattr(transport, "TLS", False)
        and all(hasattr(transport, a) for a in ("dataBuffer", "offset", "_tempDataLen", "connected", "disconnecting"))
    )
    if not plain_tcp:
        return transport.write
    batch = _Batch(transport)
    frames = batch.frames

    def write(frame: bytes) -> None:
        nonlocal frames
        if not batch.frames:
            if not _dirty:
                asyncio.get_running_loop().call_soon(_flush_all)
            _dirty.append(batch)
        batch.frames.append(frame)
        batch.size += len(frame)

    write.batch = batch  # type: ignore[attr-defined]
    return write
