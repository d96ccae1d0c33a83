"""The plain Channels WebSocket consumer (/ws/rooms/): same authentication and room
authorization as Socket.IO, the same events in order, replay and resync from the replay log."""

from __future__ import annotations

import pytest

from realtime.emit import emit, project_room, tenant_room, user_room
from realtime.tests.test_bridge_support import RoomStreamClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def plain(asgi_server):
    opened: list[RoomStreamClient] = []

    def make(**kwargs) -> RoomStreamClient:
        client = RoomStreamClient(asgi_server.url, **kwargs)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


def test_it_follows_the_own_rooms_with_a_jwt(world, plain):
    bob = plain(token=world.token(world.bob))
    welcome = bob.wait_type("welcome")
    assert welcome["user_id"] == world.bob.pk and welcome["tenant_id"] == world.acme.pk
    assert {(r["namespace"], r["room"]) for r in welcome["rooms"]} >= {
        ("/", user_room(world.bob.pk)),
        ("/provisioning", tenant_room(world.acme.pk)),
    }
    emit("test_event", {"n": 1}, room=user_room(world.bob.pk))
    emit(
        "status:update",
        {"tenant_id": world.acme.pk, "status": "x", "progress": 5, "message": "m"},
        room=tenant_room(world.acme.pk),
    )
    frame = bob.wait_type("event", event="status:update")
    assert frame["namespace"] == "/provisioning" and frame["data"]["progress"] == 5
    assert [f["data"]["n"] for f in bob.events("test_event")] == [1]


def test_it_checks_each_subscription_like_socketio(world, plain):
    charlie = plain(token=world.token(world.charlie))
    charlie.wait_type("welcome")
    charlie.send({"type": "subscribe", "room": project_room(world.apollo.pk)})
    assert charlie.wait_type("error")["code"] == "forbidden"
    charlie.send({"type": "subscribe", "room": "staff"})
    assert charlie.wait_for(lambda f: f["type"] == "error" and "staff" in f["message"])["code"] == "forbidden"
    for bad, code in (
        ({"type": "subscribe", "room": "nope:1"}, "invalid_room"),
        ({"type": "subscribe", "room": 5}, "invalid_room"),
        ({"type": "subscribe", "room": user_room(world.charlie.pk), "namespace": "/x"}, "invalid_namespace"),
        ({"type": "subscribe", "room": user_room(world.charlie.pk), "last_seq": -1}, "invalid_payload"),
        ({"type": "dance"}, "unknown_event"),
        ("not json", "invalid_payload"),
        ("x" * 5000, "invalid_payload"),
    ):
        before = len(charlie.frames)
        charlie.send(bad)
        error = charlie.wait_for(lambda f, n=before: f["type"] == "error" and charlie.frames.index(f) >= n)
        assert error["code"] == code, bad
    emit("test_event", {"n": 1}, room=project_room(world.apollo.pk))
    emit("test_event", {"n": 2}, room=user_room(world.charlie.pk))
    charlie.wait_type("event", event="test_event")
    assert [f["data"]["n"] for f in charlie.events("test_event")] == [2]


def test_a_member_gets_a_snapshot_the_events_and_a_replay(world, plain):
    room = project_room(world.apollo.pk)
    bob = plain(token=world.token(world.bob))
    bob.wait_type("welcome")
    bob.send({"type": "subscribe", "room": room})
    subscribed = bob.wait_type("subscribed", room=room)
    assert subscribed["snapshot"] == {"project_id": world.apollo.pk, "jobs": []}
    for n in range(3):
        emit("test_event", {"n": n}, room=room)
    last = bob.wait_for(lambda f: f["type"] == "event" and f["data"]["n"] == 2)
    seqs = [f["data"]["_meta"]["seq"] for f in bob.events("test_event")]
    assert seqs == list(range(subscribed["seq"] + 1, subscribed["seq"] + 4))
    bob.close()

    emit("test_event", {"n": 3}, room=room)  # while away
    emit("test_event", {"n": 4}, room=room)
    back = plain(token=world.token(world.bob))
    back.wait_type("welcome")
    meta = last["data"]["_meta"]
    back.send({"type": "subscribe", "room": room, "last_seq": meta["seq"], "epoch": meta["epoch"]})
    back.wait_type("subscribed", room=room)
    emit("test_event", {"n": 5}, room=room)
    back.wait_for(lambda f: f["type"] == "event" and f["data"]["n"] == 5)
    assert [f["data"]["n"] for f in back.events("test_event")] == [3, 4, 5]

    again = plain(token=world.token(world.bob))
    again.wait_type("welcome")
    again.send({"type": "subscribe", "room": room, "last_seq": meta["seq"], "epoch": "another-epoch"})
    assert again.wait_type("resync_required", room=room)["reason"] == "epoch_changed"


def test_it_refuses_bad_credentials_and_foreign_origins(world, plain, session_cookie, asgi_server):
    for kwargs in ({}, {"token": "not-a-token"}, {"token": world.token(world.bob) + "x"}):
        client = plain(**kwargs)
        error = client.wait_type("error")
        assert error["code"] in ("unauthenticated", "invalid_token")
        assert client.wait_close() == 4401
    cookie = session_cookie(world.bob)
    evil = plain(cookie=cookie, origin="http://evil.example")
    assert evil.wait_type("error")["code"] == "forbidden_origin"
    assert evil.wait_close() == 4403
    ours = plain(cookie=cookie, origin=asgi_server.url)
    assert ours.wait_type("welcome")["user_id"] == world.bob.pk


def test_it_closes_when_the_jwt_expires(world, plain):
    bob = plain(token=world.token(world.bob, ttl_seconds=2))
    bob.wait_type("welcome")
    assert bob.wait_type("error", code="token_expired")
    assert bob.wait_close() == 4401
