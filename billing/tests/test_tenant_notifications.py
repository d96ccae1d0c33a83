"""A tenant's billing events are stored as notifications for every user of the tenant, in the
same transaction as the change: a user who was offline while the tenant's room heard
`payment:received`, `subscription:expiring` or the expiry still sees it later."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from billing import cron, subscriptions
from billing.models import TenantPayment
from notifications.models import Notification
from realtime.emit import user_room
from testing.waits import drain

pytestmark = pytest.mark.django_db(transaction=True)


def titles_by_user(world) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for user in (world.alice, world.bob, world.charlie):
        found[user.username] = list(
            Notification.objects.filter(user=user).order_by("id").values_list("title", flat=True)
        )
    return found


def test_a_payment_nobody_was_connected_for_is_waiting_for_the_tenants_users(world, acme_subscription, connect):
    for _ in range(2):  # delivered twice: recorded, and notified, once
        subscriptions.record_payment(
            tenant_id=world.acme.pk, amount=Decimal("29.00"), currency="USD", idempotency_key="inv-offline"
        )
    assert titles_by_user(world) == {
        world.alice.username: ["Payment received"],
        world.bob.username: ["Payment received"],
        world.charlie.username: [],  # another tenant
    }
    note = Notification.objects.get(user=world.alice)
    assert (note.type, note.message) == ("billing", "We received your payment of 29.00 USD.")
    alice = connect(world.token(world.alice), namespaces=["/notifications"])  # later, after being away
    pushed = alice.wait_for("notification:new", namespace="/notifications", timeout=10)
    assert pushed["id"] == note.pk and pushed["title"] == "Payment received"
    drain(alice, user_room(world.alice.pk), namespace="/notifications")
    assert [n["id"] for n in alice.received("notification:new", namespace="/notifications")] == [note.pk]


def test_expiry_warnings_and_the_expiry_are_notified_once_each(world, acme_subscription):
    expires_on = acme_subscription.expires_on
    for days in (7, 7, 6, 0):  # the scheduler runs several times: one warning for 7 days (14 is covered too)
        cron.warn_expiring_subscriptions(today=(expires_on - timedelta(days=days)).isoformat())
    after = (expires_on + timedelta(days=1)).isoformat()
    cron.expire_lapsed_subscriptions(today=after)
    cron.expire_lapsed_subscriptions(today=after)
    # warned at 7 days left, then at 0 (the 3- and 1-day thresholds at once), then expired
    expected = ["Subscription expiring", "Subscription expiring", "Subscription expired"]
    assert titles_by_user(world) == {
        world.alice.username: expected,
        world.bob.username: expected,
        world.charlie.username: [],
    }
    messages = list(Notification.objects.filter(user=world.bob).order_by("id").values_list("message", flat=True))
    assert messages[0] == f"Your subscription expires in 7 days, on {expires_on.isoformat()}."
    assert messages[1] == f"Your subscription expires today, on {expires_on.isoformat()}."
    assert messages[2] == f"Your Basic subscription expired on {expires_on.isoformat()}."
    assert set(Notification.objects.values_list("type", flat=True)) == {"warning"}


def test_the_notification_is_in_the_payments_transaction(world, acme_subscription):
    with pytest.raises(RuntimeError), transaction.atomic():
        subscriptions.record_payment(
            tenant_id=world.acme.pk, amount=Decimal("5.00"), currency="USD", idempotency_key="inv-rolled-back"
        )
        raise RuntimeError("the caller's transaction fails after the payment")
    assert not TenantPayment.objects.exists()
    assert not Notification.objects.exists()
