"""The fast delivery path (realtime.compat.fastpath): same frames on the wire, every event, in order."""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from wsproto.frame_protocol import FrameProtocol

from realtime.compat import fastpath
from realtime.emit import emit, user_room
from testing.waits import counter_delta, server_counters

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("size", [0, 5, 125, 126, 200, 65535, 65536, 70000])
def test_it_frames_text_exactly_as_a_websocket_library_does(size):
    text = "é" * (size // 2) + "x" * (size % 2)
    expected = FrameProtocol(client=False, extensions=[]).send_data(text, fin=True)
    assert fastpath.ws_text_frame(text) == expected


def test_it_is_on_unless_turned_off():
    # the suite runs on the fast path, then its delivery tests again with REALTIME_FASTPATH=0 (scripts/test.sh)
    if settings.REALTIME_FASTPATH:
        assert fastpath.status() == {"active": True, "reason": None}
    else:
        assert fastpath.status() == {"active": False, "reason": "REALTIME_FASTPATH=0"}


def test_it_delivers_every_room_event_once_and_in_order_to_every_client(world, connect):
    token = world.token(world.alice)
    clients = [connect(token) for _ in range(3)]
    count = 300
    done = [threading.Event() for _ in clients]
    seen: list[list[int]] = [[] for _ in clients]

    def collector(i):
        def on_event(data):
            seen[i].append(data["n"])
            if len(seen[i]) == count:
                done[i].set()

        return on_event

    for i, client in enumerate(clients):
        client.on("test_event", collector(i))
    for n in range(count):
        emit("test_event", {"n": n, "source": "fastpath"}, room=user_room(world.alice.pk))
    for i in range(len(clients)):
        assert done[i].wait(20), f"client {i} got {len(seen[i])} of {count}"
    for i, client in enumerate(clients):
        assert seen[i] == list(range(count))
        assert client.duplicates == 0


def test_it_keeps_replay_before_live_events_on_subscribe(world, connect):
    """A client that subscribes with last_seq gets the missed events, then the live ones, in
    order, although live events now skip the queue when a connection's queue is empty."""
    room = f"project:{world.apollo.pk}"
    first = [emit("test_event", {"n": n}, room=room) for n in range(5)]
    client = connect(world.token(world.bob))
    got: list[int] = []
    all_in = threading.Event()

    def on_event(data):
        got.append(data["n"])
        if len(got) == 10:
            all_in.set()

    client.on("test_event", on_event)
    ack = client.call("subscribe", {"room": room, "last_seq": first[1].seq, "epoch": first[1].epoch})
    assert ack["ok"] is True
    for n in range(5, 12):
        emit("test_event", {"n": n}, room=room)
    assert all_in.wait(20), got
    assert got == list(range(2, 12))


def test_a_websocket_connection_under_daphne_gets_the_direct_writer(world, connect):
    """The direct writer finds autobahn's protocol behind daphne's send (through Channels' session
    wrapper) on a real connection: if a daphne, channels or autobahn change left it out, frames
    would still arrive (the ASGI path), only slower; this counts it."""
    before = server_counters(settings.REDIS_URL, since=time.time())
    connect(world.token(world.alice), transports=["websocket"])
    after = server_counters(settings.REDIS_URL, since=time.time())
    direct = counter_delta(before, after, fastpath.DIRECT_WRITERS)
    asgi = counter_delta(before, after, fastpath.ASGI_WRITERS)
    assert counter_delta(before, after, "connections") >= 1
    if settings.REALTIME_FASTPATH:
        assert (direct, asgi) == (1, 0)
    else:  # python-socketio's own path: no direct writer is ever attached
        assert (direct, asgi) == (0, 0)
