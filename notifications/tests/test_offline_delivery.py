"""Nothing sent while a user was away is lost: unread notifications are pushed on connect
(test_unread_on_connect.py) and come on request after connecting (`notifications_unread` ack, or
GET /api/notifications?unread=1), and a client that reconnects after a short gap gets the missed
`notification:new` events replayed."""

from __future__ import annotations

import pytest
import requests

from notifications.services import notify

pytestmark = pytest.mark.django_db(transaction=True)

NS = "/notifications"


def test_a_user_who_was_offline_gets_their_unread_notifications(world, connect, asgi_server):
    first = notify(user_id=world.alice.pk, title="One", message="sent while away")
    second = notify(user_id=world.alice.pk, title="Two", message="also sent while away")
    notify(user_id=world.bob.pk, title="Bob's", message="not alice's")
    alice = connect(world.token(world.alice), namespaces=[NS])
    answer = alice.call("notifications_unread", {}, namespace=NS)
    assert answer["ok"] is True
    assert [n["id"] for n in answer["notifications"]] == [first.pk, second.pk]
    alice.call("notification_read", {"notification_id": first.pk}, namespace=NS)

    url = f"{asgi_server.url}/api/notifications?unread=1"
    r = requests.get(url, headers={"Authorization": f"Bearer {world.token(world.alice)}"}, timeout=10)
    assert r.status_code == 200
    assert [n["id"] for n in r.json()["notifications"]] == [second.pk]
    assert r.json()["unread_count"] == 1
    everything = requests.get(
        f"{asgi_server.url}/api/notifications",
        headers={"Authorization": f"Bearer {world.token(world.alice)}"},
        timeout=10,
    ).json()["notifications"]
    assert [(n["id"], n["read"]) for n in everything] == [(first.pk, True), (second.pk, False)]


def test_a_short_gap_is_replayed_on_reconnect(world, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    notify(user_id=world.alice.pk, title="Before", message="seen live")
    alice.wait_for("notification:new", namespace=NS, timeout=10)
    alice.disconnect()
    alice.wait_until(lambda: alice.disconnects >= 1, timeout=10, what="disconnect")
    notify(user_id=world.alice.pk, title="During", message="sent while disconnected")
    alice.connect(namespaces=[NS])  # sends the last sequence number it saw per room
    replayed = alice.wait_for("notification:new", lambda e: e["title"] == "During", namespace=NS, timeout=10)
    assert replayed["_meta"]["seq"] == alice.received("notification:new")[0]["_meta"]["seq"] + 1
    assert [e["title"] for e in alice.received("notification:new")] == ["Before", "During"]


def test_the_http_endpoints_refuse_bad_input_and_strangers(world, asgi_server):
    mine = notify(user_id=world.alice.pk, title="T", message="M")
    bob = {"Authorization": f"Bearer {world.token(world.bob)}"}
    assert requests.get(f"{asgi_server.url}/api/notifications", timeout=10).status_code == 401
    assert requests.get(f"{asgi_server.url}/api/notifications?unread=maybe", headers=bob, timeout=10).status_code == 400
    assert requests.get(f"{asgi_server.url}/api/notifications?limit=x", headers=bob, timeout=10).status_code == 400
    # plain ASCII digits only (issue 21): int() took these
    for limit in ("1_0", "\u0661\u0660", " 5", "+5"):
        r = requests.get(f"{asgi_server.url}/api/notifications", params={"limit": limit}, headers=bob, timeout=10)
        assert r.status_code == 400 and r.json()["code"] == "invalid_input", limit
    r = requests.post(f"{asgi_server.url}/api/notifications/{mine.pk}/read", headers=bob, timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    alice = {"Authorization": f"Bearer {world.token(world.alice)}"}
    assert requests.post(f"{asgi_server.url}/api/notifications/{mine.pk}/read", headers=alice, timeout=10).json() == {
        "notification_id": mine.pk,
        "read": True,
    }
