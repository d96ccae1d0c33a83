"""Channels code reaches Socket.IO clients: group_send on a room's group is delivered once to each
client in the room on every server process, through the same replay log as realtime's emits, and
still to Channels consumers in the group; a plain WebSocket client following the room gets it too."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import override_settings

from realtime.bridge import group_to_room, room_to_group
from realtime.client import RealtimeClient
from realtime.emit import emit, user_room
from realtime.tests.test_bridge_support import RoomStreamClient
from testing.processes import start_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bridged_layer():
    config = {"BACKEND": "realtime.bridge.RealtimeChannelLayer", "CONFIG": {"hosts": [settings.REDIS_URL]}}
    with override_settings(CHANNEL_LAYERS={"default": config}):
        yield get_channel_layer()


@pytest.fixture(scope="module")
def second_server(django_db_setup, django_db_blocker):
    live = start_server()
    yield live
    live.proc.stop()


def test_it_maps_rooms_and_groups_both_ways():
    assert room_to_group("user:5") == "user.5"
    assert room_to_group("job:0b6c-11") == "job.0b6c-11"
    assert room_to_group("staff") == "staff"
    assert group_to_room("project.7") == "project:7"
    assert group_to_room("staff") == "staff"
    assert group_to_room("chat.lobby") is None  # not a room kind: a plain Channels group
    assert group_to_room("user") is None
    with pytest.raises(ValueError):
        room_to_group("nope")


def test_it_delivers_once_on_every_server_and_in_the_replay_log(world, asgi_server, second_server, bridged_layer):
    room = user_room(world.bob.pk)
    token = world.token(world.bob)
    clients = [RealtimeClient(server.url, token=token) for server in (asgi_server, second_server)]
    plain = RoomStreamClient(second_server.url, token=token)
    try:
        for client in clients:
            client.connect()
            client.wait_for("connected")
        plain.wait_type("welcome")
        # a Channels consumer that joined the group the Channels way
        channel = async_to_sync(bridged_layer.new_channel)()
        async_to_sync(bridged_layer.group_add)(room_to_group(room), channel)

        message = {"type": "notify.user", "event": "test_event", "data": {"n": 1}}
        async_to_sync(bridged_layer.group_send)(room_to_group(room), message)
        emit("test_event", {"n": 2}, room=room)  # realtime's own emit, after it: same sequence

        for client in clients:
            client.wait_for("test_event", lambda d: d["n"] == 2)
            got = client.received("test_event")
            assert [d["n"] for d in got] == [1, 2]  # once each, in order
            assert got[1]["_meta"]["seq"] == got[0]["_meta"]["seq"] + 1
        seq = clients[0].received("test_event")[0]["_meta"]["seq"]
        assert clients[1].received("test_event")[0]["_meta"]["seq"] == seq
        plain.wait_for(lambda f: f["type"] == "event" and f["data"]["n"] == 2)
        assert [(f["room"], f["data"]["n"], f["data"]["_meta"]["seq"]) for f in plain.events("test_event")] == [
            (room, 1, seq),
            (room, 2, seq + 1),
        ]
        received = async_to_sync(bridged_layer.receive)(channel)
        assert received["type"] == "notify.user" and received["data"]["n"] == 1
        assert received["data"]["_meta"] == {
            "room": room,
            "seq": seq,
            "epoch": clients[0].received()[-1]["_meta"]["epoch"],
        }

        # a client that was away gets it replayed from the log
        late = RealtimeClient(asgi_server.url, token=token)
        late.positions["/"][room] = {"seq": seq - 1, "epoch": received["data"]["_meta"]["epoch"]}
        late.connect()
        try:
            late.wait_for("test_event", lambda d: d["n"] == 2)
            assert [d["n"] for d in late.received("test_event")] == [1, 2]
        finally:
            late.disconnect()
    finally:
        plain.close()
        for client in clients:
            client.disconnect()


def test_plain_channels_messages_pass_through_untouched(bridged_layer):
    channel = async_to_sync(bridged_layer.new_channel)()
    async_to_sync(bridged_layer.group_add)("chat.lobby", channel)
    async_to_sync(bridged_layer.group_send)("chat.lobby", {"type": "chat.message", "text": "hi"})
    assert async_to_sync(bridged_layer.receive)(channel) == {"type": "chat.message", "text": "hi"}


def test_a_bad_bridged_event_is_refused_where_it_is_sent(world, bridged_layer):
    from realtime.contract import ContractError

    group = room_to_group(user_room(world.bob.pk))
    with pytest.raises(ContractError):
        async_to_sync(bridged_layer.group_send)(group, {"type": "x", "event": "no_such_event", "data": {}})
    with pytest.raises(ContractError):
        async_to_sync(bridged_layer.group_send)(group, {"type": "x", "event": "test_event", "data": "text"})
