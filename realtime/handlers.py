"""Client-to-server event handlers that domain apps register without importing socketio.

    from realtime import handlers

    @handlers.on("pause_automation")
    async def pause(identity, data):       # data is already validated against the contract
        ...
        return {"status": "pause_requested"}   # the ack (ok: true is added)

Raise EventError for a refusal: the client gets an `error` event and an ack with ok: false.

An app can also say what a connection missed while it was away, for clients that keep no replay
position (seed 004's): a backlog hook runs on connect when the client brought no position for its
user room, and its (event, payload) pairs go to that connection alone, before `connected`.

    @handlers.backlog(namespace="/notifications")
    async def unread(identity):
        return [("notification:new", {...}), ...]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from realtime.auth import Identity

Handler = Callable[[Identity, Any], Awaitable[dict[str, Any] | None]]
Backlog = Callable[[Identity], Awaitable[list[tuple[str, dict[str, Any]]]]]


class EventError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_handlers: dict[tuple[str, str], Handler] = {}
_backlogs: dict[str, Backlog] = {}


def on(event: str, namespace: str = "/") -> Callable[[Handler], Handler]:
    def decorate(fn: Handler) -> Handler:
        _handlers[(namespace, event)] = fn
        return fn

    return decorate


def lookup(namespace: str, event: str) -> Handler | None:
    return _handlers.get((namespace, event))


def backlog(namespace: str) -> Callable[[Backlog], Backlog]:
    def decorate(fn: Backlog) -> Backlog:
        _backlogs[namespace] = fn
        return fn

    return decorate


def backlog_for(namespace: str) -> Backlog | None:
    return _backlogs.get(namespace)
