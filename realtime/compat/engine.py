"""python-engineio's AsyncServer, with the long-polling POST made to answer every request with a
clear status: a refused payload gets its 400 at once, and nothing a client sends gets a 500 or is
dropped with a 200.

* **A refused POST no longer hangs.** When a POST's payload is refused (larger than
  `max_http_buffer_size`, or not a valid Engine.IO payload), python-engineio (4.x) disconnects the
  session before it answers the POST, and its disconnect closes the socket with `wait=True`: it
  waits until the client has fetched the CLOSE packet with a GET. A long-polling client sends its
  next GET only once the POST is answered, so both wait until the ping timeout ends the session
  (about 20 s; seen in the fuzz test), and the client gets no answer at all. Here a disconnect made
  while answering a POST does not wait: the POST gets its 400 at once, the CLOSE is left queued (an
  open GET takes it), and the session is gone, so the client's next request is told so.
* **An undecodable POST body is refused, not swallowed.** python-engineio decodes the body inside a
  bare `except` that logs a traceback and answers 200, so a body that is not UTF-8 or not an
  Engine.IO payload ("", "x", "4\\x1e") was dropped while the client was told it arrived.
  `PollingSocket` refuses it as an Engine.IO error: 400 and the session ends, which is what the
  Node server does on a parse error.
* **A POST to a session that just closed gets 400, not 500.** A session the client closed (a CLOSE
  packet, "1", in its last POST) stays in `sockets` until a GET or the service task removes it,
  and python-engineio's POST path looks it up with `_get_socket`, whose `KeyError` it does not
  catch: the ASGI server answered 500 with a traceback.
* **An undecodable WebSocket frame closes the connection cleanly.** python-engineio decodes a
  frame outside any `try` (an empty text frame, "x", "9", bad base64 after "b"), so the exception
  left its handler: a traceback from the ASGI server, and the session was not closed (no
  `disconnect` for its namespaces) until the ping timeout found it. `ValidatingWebSocket` checks
  each frame first and, as the Node server does on a parse error, closes the transport; the
  session then ends at once, through python-engineio's own path.
* **What a connection holds is bounded** (realtime.compat.backpressure): each socket's packet
  queue counts its bytes, the WebSocket counts what daphne's transport has not sent yet, and a
  connection over `SOCKETIO_MAX_BUFFERED_BYTES` is cut off (close 4008 `slow_consumer`)."""

from __future__ import annotations

import asyncio
import binascii
import contextvars
import json
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

import engineio
from engineio import exceptions, payload
from engineio import packet as eio_packet
from engineio.async_drivers import asgi as eio_asgi
from engineio.async_socket import AsyncSocket

from realtime import admission, metrics
from realtime.compat import backpressure, idle
from realtime.compat.internals import version

log = logging.getLogger(__name__)

_answering_post: contextvars.ContextVar[bool] = contextvars.ContextVar("engineio_answering_post", default=False)


_PACKET_TYPES = len(eio_packet.packet_names)  # 0 open ... 6 noop


def frame_problem(frame: str | bytes) -> str | None:
    """Why python-engineio's packet decoder (or its `receive`, which names the packet type from a
    table) would raise on one Engine.IO packet, or None when it decodes."""
    if isinstance(frame, bytes | bytearray):
        return None  # a binary message
    if not frame:
        return "empty packet"
    head = frame[0]
    if head == "b":
        try:
            binascii.a2b_base64(frame[1:].encode("ascii"), strict_mode=False)
        except (binascii.Error, UnicodeEncodeError):
            return "bad base64 message"
        return None
    if not ("0" <= head <= "9") or int(head) >= _PACKET_TYPES:
        return "unknown packet type"
    if len(frame) > 1 and not frame[1].isnumeric():
        # python-engineio tries json.loads on the rest (a Socket.IO packet, "42[...]", is left
        # as text): JSON nested past the recursion limit raises RecursionError there
        try:
            eio_packet.Packet(encoded_packet=frame)
        except RecursionError:
            return "JSON nested too deep"
    return None


class _ClientPayload(payload.Payload):
    """python-engineio refuses a payload of more than 16 packets, which its own client and
    socket.io-client send whenever they have more queued while a POST is in flight (a burst of
    emits, a binary event with many attachments): valid traffic. The body's size is already
    bounded by `max_http_buffer_size`, which bounds the number of packets too."""

    max_decode_packets = 1_000_000


class InvalidPayloadError(exceptions.EngineIOError):
    """A long-polling POST body that is not UTF-8 or not an Engine.IO payload."""


class PollingSocket(AsyncSocket):
    """python-engineio's socket, refusing a POST body it cannot decode instead of dropping it."""

    async def handle_post_request(self, environ: dict) -> None:
        body = await read_body(environ, self.server.max_http_buffer_size)
        try:
            text = body.decode("utf-8")
            problem = next(filter(None, map(frame_problem, text.split("\x1e"))), None) if text else None
        except UnicodeDecodeError:
            problem = "not UTF-8"
        if problem is None:
            try:
                packets = _ClientPayload(encoded_payload=text).packets
            except (ValueError, TypeError, IndexError, RecursionError) as exc:
                problem = type(exc).__name__
        if problem is not None:
            metrics.incr("bad_packets")
            log.info("refused long-polling payload sid=%s bytes=%d reason=%s", self.sid, len(body), problem)
            raise InvalidPayloadError(problem)
        for pkt in packets:
            await self.receive(pkt)


async def read_body(environ: dict, limit: int) -> bytes:
    """A long-polling POST's body, also when it has no Content-Length (`Transfer-Encoding:
    chunked`: python-engineio read `CONTENT_LENGTH or 0` bytes, so a chunked CONNECT was answered
    200 and never happened). A body over `limit` bytes is refused (400, Engine.IO error), either way."""
    raw = environ.get("CONTENT_LENGTH")
    if raw is None or raw == "":
        body = await environ["wsgi.input"].read(limit + 1)  # the ASGI body, however it was framed
        if len(body) > limit:
            raise exceptions.ContentTooLongError()
        return body
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidPayloadError("bad Content-Length")
    length = int(raw)
    if length > limit:
        raise exceptions.ContentTooLongError()
    return await environ["wsgi.input"].read(length)


class ValidatingWebSocket(eio_asgi.WebSocket):
    """python-engineio's ASGI WebSocket; a frame its decoder would raise on closes the transport,
    and a connection holding more than SOCKETIO_MAX_BUFFERED_BYTES unsent is cut off."""

    socket: AsyncSocket | None = None
    unsent: Callable[[], int] | None = None  # what daphne's transport holds (None: another server)

    async def __call__(self, environ: dict) -> str:
        self.asgi_receive = environ["asgi.receive"]
        self.asgi_send = environ["asgi.send"]
        await self.asgi_send({"type": "websocket.accept"})
        self.attach()
        try:
            await self.handler(self)
        finally:
            self.detach()
        return ""

    def attach(self) -> AsyncSocket | None:
        """Tell the Engine.IO socket how to see and close this connection (backpressure)."""
        socket = getattr(self.handler, "__self__", None)
        if not isinstance(socket, AsyncSocket):
            return None
        self.socket = socket
        self.unsent = backpressure.unsent_probe(self.asgi_send)
        if self.unsent is not None:
            socket.ws_protocol = backpressure.daphne_protocol(self.asgi_send)
            if isinstance(socket.queue, backpressure.BoundedQueue):
                socket.queue.outside = self.unsent
        return socket

    def detach(self) -> None:
        socket = self.socket
        if socket is not None:
            socket.ws_protocol = None
            if isinstance(socket.queue, backpressure.BoundedQueue):
                socket.queue.outside = backpressure._nothing

    def held(self) -> int:
        """What this connection holds, not yet sent: the socket's queue and daphne's transport."""
        queue = self.socket.queue if self.socket is not None else None
        return (self.unsent() if self.unsent else 0) + getattr(queue, "nbytes", 0)

    async def send(self, message: str | bytes) -> None:
        before = self.held()
        await super().send(message)
        if before and self.held() > backpressure.LIMIT and self.socket is not None:
            protocol = getattr(self.socket, "ws_protocol", None)
            if protocol is not None:
                backpressure.push(protocol)
            if self.held() > backpressure.LIMIT:
                backpressure.cut_off(self.socket)

    async def wait(self) -> str | bytes:
        frame = await super().wait()
        problem = frame_problem(frame)
        if problem is not None:
            metrics.incr("bad_packets")
            log.info("closed websocket on an undecodable frame reason=%s", problem)
            await self.close()
            raise OSError(problem)  # python-engineio's "the connection is gone": it ends the session
        return frame


def use_websocket_class(server: engineio.AsyncServer, cls: type) -> bool:
    """Make python-engineio's ASGI driver table (`_async`, an internal: docs/internals.md) give
    `cls` for the WebSocket transport. When the installed python-engineio has no such table, the
    server keeps its own class, with one warning naming what is lost, instead of failing to start."""
    if server.async_mode != "asgi":
        return False
    drivers = getattr(server, "_async", None)
    if not isinstance(drivers, dict) or "websocket" not in drivers:
        log.warning(
            "python-engineio %s has no ASGI driver table with a 'websocket' entry: %s not used "
            "(python-engineio's own WebSocket class instead)",
            version("python-engineio"),
            cls.__name__,
        )
        return False
    server._async = {**drivers, "websocket": cls}
    return True


class RealtimeEngineServer(engineio.AsyncServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_websocket_class(self, ValidatingWebSocket)  # frames validated (or a warning, see there)
        self._pingers: dict[asyncio.AbstractEventLoop, idle.Pinger] = {}
        if self.async_mode == "asgi" and isinstance(getattr(self, "_async", None), dict):
            # requests without a class made per request (realtime.compat.idle)
            self._async = {**self._async, "translate_request": idle.translate_request}

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        if idle.is_ping_task(target) and not args and not kwargs:
            # a socket's next ping: one task per process sends them all (realtime.compat.idle)
            loop = asyncio.get_running_loop()
            pinger = self._pingers.get(loop)
            if pinger is None:
                pinger = self._pingers[loop] = idle.Pinger(self.ping_interval)
            pinger.schedule(target.__self__)
            return None
        return super().start_background_task(target, *args, **kwargs)

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return super().create_queue(*args, **kwargs)
        # a socket's packet queue: lean while empty (realtime.compat.idle), bounded in bytes
        # (realtime.compat.backpressure)
        queue = backpressure.BoundedQueue()
        queue.on_overflow = self._queue_overflow
        return queue

    def _queue_overflow(self, queue: backpressure.BoundedQueue) -> None:
        socket = next((s for s in self.sockets.values() if s.queue is queue), None)
        if socket is not None:  # a scan, but once per slow consumer
            backpressure.cut_off(socket)

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        scope = args[0] if args and isinstance(args[0], dict) else {}
        if len(args) >= 3 and _opens_session(scope) and admission.full():
            return await _shed(scope, args[1], args[2])
        if scope.get("type") == "http" and len(args) >= 3 and _wants_jsonp(scope):
            # Legacy JSONP polling (`?j=N`) answers with a script to embed: off (issue 21).
            metrics.incr("bad_packets")
            log.info("refused JSONP long-polling request")
            return await self._make_response(JSONP_REFUSED, _environ(scope, args[2]))
        is_post = scope.get("type") == "http" and scope.get("method") == "POST"
        started = False
        if is_post:
            self._prepare_post(scope)
            send = args[2]

            async def tracking_send(message: dict) -> None:
                nonlocal started
                started = True
                await send(message)

            args = (args[0], args[1], tracking_send, *args[3:])
        token = _answering_post.set(is_post)
        try:
            return await super().handle_request(*args, **kwargs)
        except KeyError as exc:
            # `_get_socket` found the session closed while the POST's first bytes were read (the
            # window `_prepare_post` cannot cover): the session is over, as a 400 says.
            if not is_post or started:
                raise
            log.info("long-polling POST to a closed session: %s", exc)
            message = exc.args[0] if exc.args else "Session is disconnected"
            await self._make_response(self._bad_request(message), _environ(scope, args[2]))
            return None
        finally:
            _answering_post.reset(token)

    def _prepare_post(self, scope: dict) -> None:
        """Forget the POST's session if it is closed (so python-engineio answers 400 "Invalid
        session"), else give its socket the class that refuses undecodable bodies."""
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        sid = query.get("sid", [None])[0]
        socket = self.sockets.get(sid) if sid else None
        if socket is None:
            return
        if socket.closed:
            self.sockets.pop(sid, None)
        elif type(socket) is AsyncSocket:
            # python-engineio builds AsyncSocket itself; PollingSocket only changes
            # handle_post_request and adds no state, so the socket can take its class.
            socket.__class__ = PollingSocket

    async def disconnect(self, sid: str | None = None) -> None:
        if sid is not None and _answering_post.get():
            socket = self.sockets.get(sid)
            if socket is not None:
                await socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
                self.sockets.pop(sid, None)
                return
        await super().disconnect(sid)


JSONP_REFUSED = {
    "status": "400 BAD REQUEST",
    "headers": [("Content-Type", "application/json")],
    "response": json.dumps({"error": "JSONP long-polling is not supported", "code": "jsonp_not_supported"}).encode(),
}


SERVER_BUSY = {
    "status": "503 SERVICE UNAVAILABLE",
    "headers": [("Content-Type", "application/json"), ("Retry-After", "1")],
    "response": json.dumps(
        {"code": admission.REFUSED_CODE, "message": "the server is busy with other connections, retry shortly"}
    ).encode(),
}


def _opens_session(scope: dict) -> bool:
    """An Engine.IO open (no `sid` yet), not a request of an existing session."""
    if scope.get("type") not in ("http", "websocket"):
        return False
    return b"sid=" not in scope.get("query_string", b"")


async def _shed(scope: dict, receive: Any, send: Any) -> None:
    """Refuse a new connection as retryable (realtime.admission), before any work for it."""
    if scope["type"] == "websocket":
        if (await receive()).get("type") == "websocket.connect":
            # Closed before it is accepted: the upgrade is refused (daphne: 503), which
            # socket.io-client takes as a failed attempt and retries on its backoff (a WebSocket
            # accepted and then closed before Engine.IO's OPEN waits out the client's 20 s timeout).
            await send({"type": "websocket.close", "code": admission.WEBSOCKET_SHED_CODE})
        return
    status, _, _ = SERVER_BUSY["status"].partition(" ")
    await send(
        {
            "type": "http.response.start",
            "status": int(status),
            "headers": [(k.lower().encode(), v.encode()) for k, v in SERVER_BUSY["headers"]],
        }
    )
    await send({"type": "http.response.body", "body": SERVER_BUSY["response"]})


def _wants_jsonp(scope: dict) -> bool:
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return "j" in query


def _environ(scope: dict, send: Any) -> dict:
    """What python-engineio's `_make_response` reads of a request (its CORS headers, the ASGI send)."""
    environ = {
        f"HTTP_{name.decode('latin-1').upper().replace('-', '_')}": value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }
    environ.update(
        {
            "REQUEST_METHOD": scope.get("method", "POST"),
            "wsgi.url_scheme": scope.get("scheme", "http"),
            "asgi.scope": scope,
            "asgi.send": send,
        }
    )
    return environ
