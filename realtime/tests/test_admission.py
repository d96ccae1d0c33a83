"""Admission (realtime.admission): over SOCKETIO_MAX_PENDING_HANDSHAKES, a new Engine.IO connection
is refused at once with a retryable 503 `server_busy`; requests of existing sessions are not.
Through the real ASGI app, in process (the storm test, test_storm.py, sheds a real storm)."""

from __future__ import annotations

import asyncio
import json

import pytest

from realtime import admission
from realtime.server import match


async def call(scope: dict) -> list[dict]:
    sent: list[dict] = []
    incoming = [{"type": "websocket.connect"}] if scope["type"] == "websocket" else [{"type": "http.request"}]

    async def receive() -> dict:
        return incoming.pop(0) if incoming else await asyncio.Event().wait()

    async def send(message: dict) -> None:
        sent.append(message)

    await match(scope["path"])(scope, receive, send)
    return sent


def scope(kind: str, query: bytes) -> dict:
    return {
        "type": kind,
        "path": "/socket.io/",
        "query_string": query,
        "headers": [],
        "method": "GET",
        "scheme": "http" if kind == "http" else "ws",
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


@pytest.fixture
def full(settings):
    settings.SOCKETIO_MAX_PENDING_HANDSHAKES = 2
    admission.begin()
    admission.begin()
    yield
    admission.end()
    admission.end()


def test_a_long_polling_open_is_refused_with_503_server_busy(full):
    sent = asyncio.run(call(scope("http", b"EIO=4&transport=polling")))
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"1") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["code"] == "server_busy"


def test_a_websocket_open_is_refused_before_it_is_accepted(full):
    sent = asyncio.run(call(scope("websocket", b"EIO=4&transport=websocket")))
    assert sent == [{"type": "websocket.close", "code": admission.WEBSOCKET_SHED_CODE}]


def test_requests_of_existing_sessions_are_not_shed(full):
    sent = asyncio.run(call(scope("http", b"EIO=4&transport=polling&sid=unknown")))
    assert sent[0]["status"] == 400  # python-engineio's answer to an unknown session, not a 503
