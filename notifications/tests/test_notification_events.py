"""`notification:new` goes to its user's room on /notifications only; `notification_read` marks
the owner's notification read and confirms with `notification_read_confirmed`; anyone else's,
an unknown one or a malformed id gets an `error` event and a refused ack."""

from __future__ import annotations

import pytest

from notifications.models import Notification
from notifications.services import notify
from realtime.emit import user_room
from testing.waits import drain

pytestmark = pytest.mark.django_db(transaction=True)

NS = "/notifications"


def test_it_sends_a_new_notification_to_its_user_only(world, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    bob = connect(world.token(world.bob), namespaces=["/ws/notifications"])  # seed 004's alias
    created = notify(user_id=world.alice.pk, title="Invoice ready", message="Your invoice is ready", kind="billing")
    event = alice.wait_for("notification:new", namespace=NS, timeout=10)
    assert {k: event[k] for k in ("id", "title", "message", "type")} == {
        "id": created.pk,
        "title": "Invoice ready",
        "message": "Your invoice is ready",
        "type": "billing",
    }
    assert event["created_at"].endswith("Z")
    notify(user_id=world.bob.pk, title="For bob", message="hi")
    assert bob.wait_for("notification:new", timeout=10)["title"] == "For bob"
    assert [e["title"] for e in bob.received("notification:new")] == ["For bob"]


def test_it_marks_the_owners_notification_read(world, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    created = notify(user_id=world.alice.pk, title="T", message="M")
    answer = alice.call("notification_read", {"notification_id": created.pk}, namespace=NS)
    assert answer == {"ok": True, "notification_id": created.pk}
    assert alice.wait_for("notification_read_confirmed", namespace=NS, timeout=10)["notification_id"] == created.pk
    assert Notification.objects.get(pk=created.pk).read_at is not None
    # seed 004 clients send the id as a string
    assert alice.call("notification_read", {"notification_id": str(created.pk)}, namespace=NS)["ok"] is True


def test_it_refuses_someone_elses_or_an_unknown_notification(world, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    bob = connect(world.token(world.bob), namespaces=[NS])
    theirs = notify(user_id=world.alice.pk, title="T", message="M")
    answer = bob.call("notification_read", {"notification_id": theirs.pk}, namespace=NS)
    assert answer["ok"] is False and answer["code"] == "not_found"
    assert bob.wait_for("error", namespace=NS, timeout=10)["code"] == "not_found"
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert bob.call("notification_read", {"notification_id": 987654321}, namespace=NS)["code"] == "not_found"
    assert bob.call("notification_read", {"notification_id": "abc"}, namespace=NS)["code"] == "invalid_payload"
    assert bob.call("notification_read", {}, namespace=NS)["code"] == "invalid_payload"
    drain(alice, user_room(world.alice.pk), namespace=NS)
    assert alice.received("notification_read_confirmed") == []
