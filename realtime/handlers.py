"""Client-to-server event handlers that domain apps register without importing socketio.

    from realtime import handlers

    @handlers.on("pause_automation")
    async def pause(identity, data):       # data is already validated against the contract
        ...
        return {"status": "pause_requested"}   # the ack (ok: true is added)

Raise EventError for a refusal: the client gets an `error` event and an ack with ok: false.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from realtime.auth import Identity

Handler = Callable[[Identity, Any], Awaitable[dict[str, Any] | None]]


class EventError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_handlers: dict[tuple[str, str], Handler] = {}


def on(event: str, namespace: str = "/") -> Callable[[Handler], Handler]:
    def decorate(fn: Handler) -> Handler:
        _handlers[(namespace, event)] = fn
        return fn

    return decorate


def lookup(namespace: str, event: str) -> Handler | None:
    return _handlers.get((namespace, event))
