"""The Socket.IO server (python-socketio AsyncServer, ASGI) and its ASGI apps.

One server per process; it shares rooms and events with every other server process and every
worker through Redis (RealtimeManager). It answers at `/socket.io/` and at `/ws/socket.io/`."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket

import socketio
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from realtime import contract, fastpath, metrics
from realtime.manager import RealtimeManager
from realtime.namespaces import RealtimeNamespace
from realtime.redis import realtime_url

log = logging.getLogger(__name__)

PATHS = ("socket.io", "ws/socket.io")


class InvalidPacketError(ValueError):
    """A Socket.IO packet from a client that does not decode, or is of a type a client may not send."""


class ClientPacket(socketio.packet.Packet):
    """python-socketio's packet; decoding a client's packet raises InvalidPacketError for anything
    malformed (python-socketio raised whatever its parser hit: JSONDecodeError, ValueError on a
    bad attachment count, TypeError on bytes)."""

    def decode(self, encoded_packet: str | bytes) -> int:
        if not isinstance(encoded_packet, str):
            # python-engineio hands over a message as JSON-decoded data when it parses as JSON
            # ("4[1]" arrives as [1]); a Socket.IO packet is text ("4" + "2[...]")
            raise InvalidPacketError("a Socket.IO packet must be text")
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, RecursionError) as exc:
            raise InvalidPacketError(f"undecodable packet ({type(exc).__name__})") from None
        if self.packet_type not in _CLIENT_PACKET_TYPES:
            raise InvalidPacketError(f"a client may not send packet type {self.packet_type!r}")
        if self.packet_type in (socketio.packet.BINARY_EVENT, socketio.packet.BINARY_ACK) and not attachments:
            # python-socketio would wait for attachments that never come and take the
            # connection's next packets for them
            raise InvalidPacketError("binary packet with no attachments")
        return attachments or 0

    def add_attachment(self, attachment: bytes) -> bool:
        if not isinstance(attachment, bytes):
            raise InvalidPacketError("a text packet where a binary attachment was due")
        try:
            return super().add_attachment(attachment)
        except (ValueError, TypeError, IndexError, KeyError, RecursionError) as exc:
            raise InvalidPacketError(f"bad binary attachment ({type(exc).__name__})") from None


_CLIENT_PACKET_TYPES = frozenset(
    {
        socketio.packet.CONNECT,
        socketio.packet.DISCONNECT,
        socketio.packet.EVENT,
        socketio.packet.ACK,
        socketio.packet.BINARY_EVENT,
        socketio.packet.BINARY_ACK,
    }
)


class RealtimeServer(socketio.AsyncServer):
    def _engineio_server_class(self):
        return fastpath.engine_server_class()  # REALTIME_FASTPATH=0: realtime.engine's, no fast path

    async def _handle_eio_message(self, eio_sid, data):
        # A packet that does not decode is answered with an `error` event; python-socketio let
        # the exception out, which engine.io logged as a traceback while the client heard nothing.
        if eio_sid not in self.environ:
            # The Engine.IO session has ended (the client sent CLOSE, "1"), but python-engineio
            # still hands over what was already read behind it: python-socketio then failed on the
            # session's environ (KeyError, a traceback). Nobody is left to answer.
            log.info("dropped a packet that came after its session ended eio_sid=%s", eio_sid)
            return None
        try:
            return await super()._handle_eio_message(eio_sid, data)
        except InvalidPacketError as exc:
            self._binary_packet.pop(eio_sid, None)  # a half-received binary packet goes with it
            await self._refuse(eio_sid, None, "invalid_packet", str(exc))
        except ValueError as exc:
            if str(exc) != "Unexpected binary packet":  # python-socketio's: binary to a namespace not joined
                raise
            await self._refuse(eio_sid, None, "invalid_packet", "binary packet for a namespace not connected")

    async def _handle_event(self, eio_sid, namespace, id, data):  # noqa: A002 (python-socketio's name)
        # A client may not fire the reserved handlers ("connect", "disconnect") as events, and
        # an event name must be a string.
        if not isinstance(data, list) or not data or not isinstance(data[0], str) or data[0] in self.reserved_events:
            message = "event name must be a non-reserved string"
            await self._refuse(eio_sid, namespace or "/", "invalid_event", message)
            if id is not None:  # the client's call() gets its answer instead of waiting for its timeout
                answer = {"ok": False, "code": "invalid_event", "message": message}
                await self._send_packet(
                    eio_sid, self.packet_class(socketio.packet.ACK, namespace=namespace or "/", id=id, data=[answer])
                )
            return
        return await super()._handle_event(eio_sid, namespace, id, data)

    async def _refuse(self, eio_sid: str, namespace: str | None, code: str, message: str) -> None:
        """Count a malformed packet and tell the client, as an `error` event on its namespace (for
        a packet that did not decode, "/" or else the first namespace it is connected to), never
        with the packet's contents."""
        metrics.incr("bad_packets")
        log.info("refused malformed packet eio_sid=%s ns=%s code=%s reason=%s", eio_sid, namespace, code, message)
        candidates = (
            [namespace] if namespace is not None else ["/", *sorted(set(self.manager.get_namespaces()) - {"/"})]
        )
        for ns in candidates:
            sid = self.manager.sid_from_eio_sid(eio_sid, ns)
            if sid is not None and self.manager.is_connected(sid, ns):
                payload = {"message": message, "code": code}
                contract.check_outgoing("error", payload, ns)
                await self.manager.send_to_sid(sid, ns, "error", payload)
                return


class CountingManager(RealtimeManager):
    """Counts deliveries: each room event received here goes to the room's local members."""

    async def _handle_emit(self, message: dict) -> None:
        room, namespace = message.get("room"), message.get("namespace")
        if isinstance(room, str):
            targets = [namespace, *self._aliases.get(namespace, ())]
            metrics.incr("deliveries", sum(len(self.rooms.get(ns, {}).get(room, ())) for ns in targets))
        await super()._handle_emit(message)


def _start_server_tasks(sio: socketio.AsyncServer) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # not serving (a command, the test process): nothing to run
    for path in settings.REALTIME_SERVER_TASKS:
        sio.start_background_task(import_string(path), sio)


def _admin_ui(sio: socketio.AsyncServer) -> None:
    """The Socket.IO Admin UI (https://admin.socket.io), off unless SOCKETIO_ADMIN_ENABLED.
    Its origin must then be in SOCKETIO_ALLOWED_ORIGINS."""
    if not settings.SOCKETIO_ADMIN_ENABLED:
        return
    username = settings.SOCKETIO_ADMIN_USERNAME
    password = settings.SOCKETIO_ADMIN_PASSWORD
    if not username or len(password) < 12:
        raise ImproperlyConfigured("SOCKETIO_ADMIN_ENABLED needs SOCKETIO_ADMIN_USERNAME and a 12+ character password")
    sio.instrument(
        auth={"username": username, "password": password},
        mode="production",
        read_only=True,
        server_id=f"{socket.gethostname()}:{os.getpid()}",
    )
    log.info("Socket.IO Admin UI instrumented (namespace /admin, read-only)")


@functools.cache
def get_server() -> RealtimeServer:
    manager = CountingManager(realtime_url(), channel=settings.SOCKETIO_CHANNEL)
    sio = RealtimeServer(
        async_mode="asgi",
        serializer=ClientPacket,
        client_manager=manager,
        cors_allowed_origins=list(settings.SOCKETIO_ALLOWED_ORIGINS),
        max_http_buffer_size=settings.SOCKETIO_MAX_HTTP_BUFFER_SIZE,
        ping_interval=settings.SOCKETIO_PING_INTERVAL,
        ping_timeout=settings.SOCKETIO_PING_TIMEOUT,
        logger=False,
        engineio_logger=False,
        # A connection's events are handled in the order it sent them (subscribe then
        # unsubscribe must not be reordered); other connections are not held up.
        async_handlers=False,
    )
    for namespace in [*contract.namespaces(), *contract.namespace_aliases()]:
        sio.register_namespace(RealtimeNamespace(namespace))
    _admin_ui(sio)
    _start_server_tasks(sio)
    return sio


@functools.cache
def asgi_apps() -> dict[str, socketio.ASGIApp]:
    """One ASGI app per endpoint path, all over the same server."""
    return {path: socketio.ASGIApp(get_server(), socketio_path=path) for path in PATHS}


def match(path: str) -> socketio.ASGIApp | None:
    for prefix, app in asgi_apps().items():
        if path.startswith(f"/{prefix}/") or path == f"/{prefix}":
            return app
    return None
