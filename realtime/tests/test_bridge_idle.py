"""Plain /ws/rooms/ connections stay open while idle and under load, past several of the channel
layer's blocking reads (issue 21, defect 1: redis-py's 5 s socket timeout equalled channels_redis'
5 s blocking read, so every idle consumer died with close 1011 after about 5 s). Real daphne, real
Redis, several connections in parallel."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import websocket

from realtime.bridge import LAYER_READ_MARGIN_SECONDS, layer_host
from realtime.emit import emit, user_room
from realtime.tests.test_bridge_support import RoomStreamClient

pytestmark = pytest.mark.django_db(transaction=True)

CONNECTIONS = 6
IDLE_SECONDS = 16  # three of channels_redis' 5 s blocking reads
LOAD_SECONDS = 6


def closed_while_idle(client: RoomStreamClient, seconds: float) -> int | None:
    """Wait up to `seconds` for the server to close the connection (its close code), None when it
    stayed open and silent all along."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        client.ws.settimeout(left)
        try:
            opcode, data = client.ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return None
        except websocket.WebSocketConnectionClosedException:
            return 1006
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
    return None


def test_plain_websockets_outlive_several_blocking_reads_idle_and_under_load(world, asgi_server):
    users = [world.alice, world.bob, world.charlie]
    clients = [RoomStreamClient(asgi_server.url, token=world.token(users[n % len(users)])) for n in range(CONNECTIONS)]
    try:
        for client in clients:
            client.wait_type("welcome")
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            closes = list(pool.map(lambda c: closed_while_idle(c, IDLE_SECONDS), clients))
        assert closes == [None] * CONNECTIONS, f"closed while idle: {closes}\n{asgi_server.proc.log()}"

        # Under load: events to every user's room, each waited for by every connection of that user.
        n, deadline = 0, time.monotonic() + LOAD_SECONDS
        while time.monotonic() < deadline:
            n += 1
            for user in users:
                emit("test_event", {"n": n}, room=user_room(user.pk))
            for client in clients:
                client.wait_for(
                    lambda f, n=n: f["type"] == "event" and f["event"] == "test_event" and f["data"]["n"] == n,
                    what=f"test_event {n}",
                )
        assert n >= 3, f"only {n} rounds in {LOAD_SECONDS}s"
        for client in clients:  # every connection got every round, in order
            assert [f["data"]["n"] for f in client.events("test_event")] == list(range(1, n + 1))
    finally:
        for client in clients:
            client.close()


def test_the_layer_socket_timeout_outlasts_its_blocking_read():
    host = layer_host({"address": "redis://127.0.0.1:1/0"}, 5)
    assert host["socket_timeout"] == 5 + LAYER_READ_MARGIN_SECONDS
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        layer_host({"address": "redis://127.0.0.1:1/0", "socket_timeout": 5}, 5)
