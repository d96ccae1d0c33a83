"""Pings come from one task per process (realtime.compat.idle.Pinger), not one per connection:
the same Engine.IO behaviour. A connection that answers is pinged every interval and stays; one
that stops answering is closed after the ping timeout."""

from __future__ import annotations

import json
import time

import pytest
import websocket

from testing.processes import start_server

pytestmark = pytest.mark.django_db(transaction=True)


def open_raw(server, token: str) -> websocket.WebSocket:
    ws = websocket.create_connection(
        server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket", timeout=10
    )
    assert ws.recv().startswith("0{")
    ws.send("40" + json.dumps({"token": token}))
    return ws


def test_pings_keep_answering_connections_and_close_silent_ones(world):
    server = start_server(SOCKETIO_PING_INTERVAL="1", SOCKETIO_PING_TIMEOUT="1")
    try:
        answering, silent = open_raw(server, world.token(world.alice)), open_raw(server, world.token(world.bob))
        pings: list[float] = []
        started = time.monotonic()
        while len(pings) < 4:  # the recv timeout bounds the wait
            frame = answering.recv()
            if frame == "2":
                pings.append(time.monotonic() - started)
                answering.send("3")
        gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
        assert all(0.8 < gap < 1.8 for gap in gaps), pings
        silent.settimeout(10)
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            while True:  # pings go unanswered: the server closes the connection
                if silent.recv() == "":
                    raise websocket.WebSocketConnectionClosedException("closed")
        assert answering.connected
        answering.close()
    finally:
        server.proc.stop()
