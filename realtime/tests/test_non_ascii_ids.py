"""Ids from client input made of non-ASCII digits ("²".isdigit() is True, int("²") raises) are
refused with an error, over Socket.IO and the plain WebSocket consumer; nothing dies."""

from __future__ import annotations

import pytest

from realtime.client import RealtimeClient
from realtime.emit import emit, project_room, user_room
from realtime.tests.test_bridge_support import RoomStreamClient

pytestmark = pytest.mark.django_db(transaction=True)

ODD_DIGITS = ["²", "١٢", "𝟙"]  # superscript two, Arabic-Indic, mathematical bold one


@pytest.mark.parametrize("digits", ODD_DIGITS)
def test_socketio_refuses_non_ascii_digit_ids(world, connect, digits):
    alice = connect(world.token(world.alice))
    answer = alice.call("subscribe", {"room": f"project:{digits}"})
    assert answer["ok"] is False and answer["code"] == "forbidden", answer
    answer = alice.call("subscribe_project", {"project_id": digits})
    assert answer["ok"] is False and answer["code"] == "invalid_room", answer
    answer = alice.call("subscribe", {"room": f"user:{digits}"})
    assert answer["ok"] is False and answer["code"] == "forbidden", answer
    assert {e["code"] for e in alice.received("error")} <= {"forbidden", "invalid_room"}
    # still connected and served
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True


def test_a_non_ascii_room_in_last_seen_does_not_break_the_welcome(world, asgi_server):
    client = RealtimeClient(asgi_server.url, token=world.token(world.alice))
    client.positions["/"]["project:²"] = {"seq": 1, "epoch": "e"}
    client.connect()
    try:
        error = client.wait_for("error", lambda e: e.get("event") == "connect")
        assert error["code"] == "forbidden"
        client.wait_for("connected")
        emit("test_event", {"n": 1}, room=user_room(world.alice.pk))
        client.wait_for("test_event", lambda d: d["n"] == 1)
    finally:
        client.disconnect()


def test_the_plain_websocket_consumer_answers_an_error_and_lives_on(world, asgi_server):
    bob = RoomStreamClient(asgi_server.url, token=world.token(world.bob))
    try:
        bob.wait_type("welcome")
        for digits in ODD_DIGITS:
            bob.send({"type": "subscribe", "room": f"project:{digits}"})
            assert bob.wait_for(lambda f, d=digits: f["type"] == "error" and d in f["message"])["code"] == "forbidden"
        bob.send({"type": "subscribe", "room": project_room(world.apollo.pk)})
        assert bob.wait_type("subscribed")["room"] == project_room(world.apollo.pk)
        emit("test_event", {"n": 1}, room=project_room(world.apollo.pk))
        assert bob.wait_type("event", event="test_event")["data"]["n"] == 1
    finally:
        bob.close()
