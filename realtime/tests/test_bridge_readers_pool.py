"""Plain WebSocket consumers wait in XREAD BLOCK, each holding a Redis connection. They take
those from a pool of their own: however many of them are idle, Socket.IO clients still connect,
subscribe (a replay-log read) and receive events. The server here shares a pool of 4 connections;
8 readers used to take all of it, and Socket.IO joins then waited for a connection and failed."""

from __future__ import annotations

import pytest

from realtime.client import RealtimeClient
from realtime.emit import emit, project_room, user_room
from realtime.tests.test_bridge_support import RoomStreamClient
from testing.processes import start_server

pytestmark = pytest.mark.django_db(transaction=True)

SHARED_POOL = 4
READERS = 8


@pytest.fixture
def small_pool_server(asgi_server):  # asgi_server: the test database is set up
    server = start_server(REALTIME_REDIS_POOL_SIZE=str(SHARED_POOL))
    yield server
    server.proc.stop()


def test_idle_plain_readers_do_not_starve_socketio(world, small_pool_server):
    readers = [RoomStreamClient(small_pool_server.url, token=world.token(world.bob)) for _ in range(READERS)]
    sio = None
    try:
        for reader in readers:
            reader.wait_type("welcome")  # each now follows bob's rooms: one blocked XREAD each
        sio = RealtimeClient(small_pool_server.url, token=world.token(world.alice))
        sio.connect()
        sio.wait_for("connected", timeout=10)
        ack = sio.call("subscribe_project", {"project_id": world.apollo.pk}, timeout=10)
        assert ack["ok"] is True
        emit("test_event", {"n": 1}, room=project_room(world.apollo.pk))
        emit("test_event", {"n": 2}, room=user_room(world.bob.pk))
        assert sio.wait_for("test_event", lambda d: d["n"] == 1, timeout=10)["_meta"]["room"] == project_room(
            world.apollo.pk
        )
        for reader in readers:  # and every reader still gets its room's events
            assert reader.wait_type("event", event="test_event")["data"]["n"] == 2
    finally:
        if sio is not None:
            sio.disconnect()
        for reader in readers:
            reader.close()
