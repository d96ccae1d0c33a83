"""daphne's WebSocket protocol (autobahn's), made cheaper per connection; same behaviour.

Profiled during a connection storm (docs/benchmarks.md, "Connection cost"), autobahn spends on
every new connection:

* **a copy of its ~45 protocol options into the connection's `__dict__`** (`_connectionMade`
  copies each of `CONFIG_ATTRS` from the factory unless the protocol already has it): memory for
  every idle connection, the same values in all of them. Here each option is a descriptor on
  daphne's protocol class that reads the factory's value until the connection sets its own, so
  `hasattr` is true, nothing is copied, and a per-connection override (autobahn's
  `setProtocolOptions` on a protocol) still works.
* **a `pprint.pformat` of those options for a debug log line** that is built whether or not
  debug logging is on (about 6 % of the server's CPU while connections open). Here the text is
  only made if the line is actually written.

* **an `asyncio.Queue` per connection for the ASGI input** (daphne's `create_application`),
  about 3.4 KiB allocated up front: here a `realtime.compat.idle.LeanQueue`, the same
  interface, which allocates only while it holds messages.

And admission (realtime.admission), where a storm needs it cheapest: a WebSocket open
(Engine.IO, no `sid`) that admission sheds is refused with HTTP 503 in the WebSocket handshake
itself, before daphne creates an ASGI application instance for it (most of a refused open's cost
when thousands of clients retry each second). A WebSocket the application closes before
accepting it with close code `realtime.admission.WEBSOCKET_SHED_CODE` (the ASGI app's own shed,
realtime.compat.engine, for one that got past this) is refused with 503 too, instead of daphne's
403 ("Access denied").

`install()` is called when project.asgi is imported (daphne has imported its protocol by then)."""

from __future__ import annotations

import asyncio
import pprint
from functools import partial
from typing import Any

from realtime.compat.idle import LeanQueue

_installed = False


class _FactoryOption:
    """A protocol option: the connection's own value if it set one, else its factory's."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        own = obj.__dict__
        if self.name in own:
            return own[self.name]
        factory = own.get("factory")
        if factory is None:
            raise AttributeError(self.name)  # before buildProtocol: as autobahn (not copied yet)
        return getattr(factory, self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value

    def __delete__(self, obj: Any) -> None:
        obj.__dict__.pop(self.name, None)


class _LazyFormat:
    """pprint.pformat(obj), computed only when the log line is formatted."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __str__(self) -> str:
        return pprint.pformat(self.obj)

    __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731


def install() -> None:
    global _installed
    if _installed:
        return
    try:
        from autobahn.websocket import protocol as autobahn_protocol
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # another ASGI server: nothing to adapt
        return
    for name in WebSocketProtocol.CONFIG_ATTRS:
        if not hasattr(WebSocketProtocol, name):  # one the class has is not copied by autobahn either
            setattr(WebSocketProtocol, name, _FactoryOption(name))
    autobahn_protocol.pformat = _LazyFormat
    WebSocketProtocol.handle_reply = _with_busy_refusal(WebSocketProtocol.handle_reply)
    WebSocketProtocol.onConnect = _shedding(WebSocketProtocol.onConnect)
    from daphne.server import Server

    Server.create_application = _create_application
    _installed = True


def _with_busy_refusal(handle_reply: Any) -> Any:
    from autobahn.websocket.types import ConnectionDeny

    from realtime.admission import WEBSOCKET_SHED_CODE

    def refusing_handle_reply(self: Any, message: dict) -> None:
        if (
            message.get("type") == "websocket.close"
            and message.get("code") == WEBSOCKET_SHED_CODE
            and self.state == self.STATE_CONNECTING
        ):
            # daphne's serverReject, with 503 for 403
            self.handshake_deferred.errback(ConnectionDeny(code=503, reason="Service Unavailable"))
            del self.handshake_deferred
            self.server.protocol_disconnected(self)
            return
        handle_reply(self, message)

    return refusing_handle_reply


def _create_application(self: Any, protocol: Any, scope: dict) -> Any:
    """daphne's Server.create_application (daphne 4), with a LeanQueue for its asyncio.Queue."""
    assert "application_instance" not in self.connections[protocol]  # noqa: S101 (daphne's check)
    input_queue = LeanQueue()
    scope.setdefault("asgi", {"version": "3.0"})
    application_instance = self.application(
        scope=scope, receive=input_queue.get, send=partial(self.handle_reply, protocol)
    )
    if protocol not in self.connections:
        return None
    self.connections[protocol]["application_instance"] = asyncio.ensure_future(
        application_instance, loop=asyncio.get_event_loop()
    )
    return input_queue


def _shedding(on_connect: Any) -> Any:
    from autobahn.websocket.types import ConnectionDeny

    from realtime import admission

    def shedding_on_connect(self: Any, request: Any) -> Any:
        if admission.sheds(request.path, has_sid="sid" in request.params):
            raise ConnectionDeny(503, "Service Unavailable")
        return on_connect(self, request)

    return shedding_on_connect
