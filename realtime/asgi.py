"""The ASGI wrapper a host puts around its Django application (docs/adopt.md):

    application = realtime.asgi.wrap(get_asgi_application())

`/socket.io/` and `/ws/socket.io/` (HTTP long-polling and WebSocket) go to the python-socketio
server, behind Channels' cookie/session/auth middleware so a logged-in browser is known on
connect (a request without a Cookie header skips that middleware: it has no session to find, and
the middleware's scope copies and session wrapper cost every cookie-less connection, a JWT
client's, time and memory). Other WebSocket paths go to the host's Channels routes (or are
refused); all other HTTP goes to Django."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter

from realtime.compat import daphne_protocol
from realtime.server import match


async def _socketio(scope: dict, receive: Any, send: Any) -> Any:
    return await match(scope["path"])(scope, receive, send)


socketio_with_session = AuthMiddlewareStack(_socketio)


class SocketIODispatch:
    """Socket.IO paths to the Socket.IO server (with session auth), everything else to `fallback`."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        app = match(scope.get("path", ""))
        if app is None:
            return await self.fallback(scope, receive, send)
        if any(name == b"cookie" for name, _ in scope.get("headers", ())):
            return await socketio_with_session(scope, receive, send)
        # No cookie: no session, no user in scope. Called from here, not through a wrapper: each
        # coroutine between daphne and the connection's read loop stays alive as long as it.
        return await app(scope, receive, send)


def wrap(django_http: Any, websocket_urlpatterns: list | None = None) -> ProtocolTypeRouter:
    """The host's ASGI application: Socket.IO plus `django_http` (get_asgi_application()) and,
    when given, the host's own Channels WebSocket routes (behind the session/auth middleware)."""
    daphne_protocol.install()
    return ProtocolTypeRouter(
        {
            "http": SocketIODispatch(django_http),
            "websocket": SocketIODispatch(AuthMiddlewareStack(URLRouter(websocket_urlpatterns or []))),
        }
    )
