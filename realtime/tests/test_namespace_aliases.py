"""Seed 004's clients connect with io('<host>/ws', {path: '/socket.io'}), i.e. to namespace /ws
(and /ws/notifications, ...). They are served as the namespace each aliases: same auth, rooms,
events, sequence numbers and replay."""

from __future__ import annotations

import pytest

from realtime.emit import emit, user_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_seed_004_client_on_ws_gets_the_root_namespace_events(world, connect):
    client = connect(world.token(world.alice), namespaces=["/ws", "/ws/notifications"])
    assert client.wait_for("connected", namespace="/ws")["user_id"] == world.alice.pk
    native = connect(world.token(world.alice))
    published = emit("test_event", {"n": 1}, room=user_room(world.alice.pk))
    on_alias = client.wait_for("test_event", namespace="/ws")
    on_native = native.wait_for("test_event")
    assert on_alias == on_native
    assert on_alias["_meta"]["seq"] == published.seq
    assert client.received("test_event", namespace="/ws/notifications") == []


def test_an_alias_client_replays_what_it_missed(world, connect):
    room = user_room(world.alice.pk)
    first = emit("test_event", {"n": 1}, room=room)
    emit("test_event", {"n": 2}, room=room)
    emit("test_event", {"n": 3}, room=room)
    client = connect(world.token(world.alice), namespaces=["/ws"])
    client.positions["/ws"][room] = {"seq": first.seq, "epoch": first.epoch}
    client.disconnect()
    client.connect(namespaces=["/ws"])
    client.wait_for("test_event", lambda d: d["n"] == 3, namespace="/ws")
    assert [d["n"] for d in client.received("test_event", namespace="/ws")] == [2, 3]


def test_client_events_work_on_an_alias(world, connect):
    client = connect(world.token(world.bob), namespaces=["/ws"])
    assert client.call("subscribe_project", {"project_id": world.apollo.pk}, namespace="/ws")["ok"] is True
    assert client.call("subscribe_project", {"project_id": world.cygnus.pk}, namespace="/ws")["code"] == "forbidden"
