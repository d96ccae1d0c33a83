"""ASGI entry point: a Channels ProtocolTypeRouter.

`/socket.io/` and `/ws/socket.io/` (HTTP long-polling and WebSocket) go to the python-socketio
server, behind Channels' cookie/session/auth middleware so a logged-in browser is known on
connect (a request without a Cookie header skips that middleware: it has no session to find, and
the middleware's scope copies and session wrapper cost every cookie-less connection, a JWT
client's, time and memory). Other WebSocket paths go to Channels consumers; all other HTTP goes
to Django."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_http = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from project.routing import websocket_urlpatterns  # noqa: E402
from realtime.compat import daphne_protocol  # noqa: E402
from realtime.server import match  # noqa: E402

daphne_protocol.install()


async def _socketio(scope, receive, send):
    return await match(scope["path"])(scope, receive, send)


socketio_with_session = AuthMiddlewareStack(_socketio)


class SocketIODispatch:
    """Socket.IO paths to the Socket.IO server (with session auth), everything else to `fallback`."""

    def __init__(self, fallback) -> None:
        self.fallback = fallback

    async def __call__(self, scope, receive, send):
        app = match(scope.get("path", ""))
        if app is None:
            return await self.fallback(scope, receive, send)
        if any(name == b"cookie" for name, _ in scope.get("headers", ())):
            return await socketio_with_session(scope, receive, send)
        # No cookie: no session, no user in scope. Called from here, not through a wrapper: each
        # coroutine between daphne and the connection's read loop stays alive as long as it.
        return await app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": SocketIODispatch(django_http),
        "websocket": SocketIODispatch(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything imported so far (Django, the apps, the contract, the libraries) lives as long as the
# process. Move it out of the cyclic GC's reach: a full collection no longer scans it. Measured
# under fan-out load (500 events/s to 100 clients): full collections paused the loop for 25-100 ms
# without this, the whole of the p99/p999 delivery latency (docs/benchmarks.md). Only objects
# created from here on are collected; garbage is still freed by reference counting as before.
gc.freeze()
