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

from realtime import contract
from realtime.compat.redis_manager import RealtimeManager
from realtime.compat.socketio_server import ClientPacket, RealtimeServer
from realtime.protocols.socketio_namespace import RealtimeNamespace, report_slow_consumer
from realtime.redis import realtime_url

log = logging.getLogger(__name__)

PATHS = ("socket.io", "ws/socket.io")


# The server tasks, referenced while they run: the event loop keeps only weak references to tasks,
# and a task waiting on something only it references (the outbox relay's task waits for the server
# to stop) is otherwise garbage-collected ("Task was destroyed but it is pending!").
_server_tasks: set[asyncio.Future] = set()


def _start_server_tasks(sio: socketio.AsyncServer) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # not serving (a command, the test process): nothing to run
    for path in settings.REALTIME_SERVER_TASKS:
        task = sio.start_background_task(import_string(path), sio)
        _server_tasks.add(task)
        task.add_done_callback(_server_tasks.discard)


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
    manager = RealtimeManager(realtime_url(), channel=settings.SOCKETIO_CHANNEL)
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
    sio.eio.on_slow_consumer = functools.partial(report_slow_consumer, sio)
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
