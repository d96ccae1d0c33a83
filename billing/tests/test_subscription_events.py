"""Seed 004's /billing events go to the tenant's room only: `subscription:updated` when a
subscription changes, `payment:received {amount, currency}` (amount a decimal string) when a
payment is recorded (once per idempotency key), and another tenant can't listen in."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from billing import subscriptions
from billing.models import Plan, TenantPayment
from realtime.emit import tenant_room
from testing.waits import drain

pytestmark = pytest.mark.django_db(transaction=True)

NS = "/billing"


def test_it_announces_a_subscription_change_to_the_tenant_only(world, acme_subscription, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    bob = connect(world.token(world.bob), namespaces=["/ws/billing"])  # seed 004's alias
    charlie = connect(world.token(world.charlie), namespaces=[NS])
    pro = Plan.objects.create(code="pro-x", name="Pro", price=Decimal("99.00"))
    subscriptions.change_subscription(tenant_id=world.acme.pk, plan=pro)
    updated = alice.wait_for("subscription:updated", namespace=NS, timeout=10)["subscription"]
    assert (updated["plan"], updated["tenant_id"], updated["status"]) == ("pro-x", world.acme.pk, "active")
    assert bob.wait_for("subscription:updated", timeout=10)["_meta"]["room"] == f"tenant:{world.acme.pk}"
    # charlie's tenant gets its own events, and no one else's
    subscriptions.subscribe(tenant_id=world.globex.pk, plan=pro, expires_on=acme_subscription.expires_on)
    mine = charlie.wait_for("subscription:updated", namespace=NS, timeout=10)["subscription"]
    assert mine["tenant_id"] == world.globex.pk
    assert len(charlie.received("subscription:updated")) == 1


def test_another_tenants_room_is_refused(world, acme_subscription, connect):
    charlie = connect(world.token(world.charlie), namespaces=[NS])
    answer = charlie.call("subscribe", {"room": f"tenant:{world.acme.pk}"}, namespace=NS)
    assert answer["ok"] is False and answer["code"] == "forbidden"
    assert charlie.wait_for("error", namespace=NS, timeout=10)["code"] == "forbidden"


def test_it_announces_a_payment_once_and_renews(world, acme_subscription, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    charlie = connect(world.token(world.charlie), namespaces=[NS])
    for _ in range(2):  # a webhook delivered twice
        subscriptions.record_payment(
            tenant_id=world.acme.pk, amount=Decimal("29.00"), currency="USD", idempotency_key="inv-1"
        )
    received = alice.wait_for("payment:received", namespace=NS, timeout=10)
    assert {k: received[k] for k in ("amount", "currency")} == {"amount": "29.00", "currency": "USD"}
    renewed = alice.wait_for("subscription:updated", namespace=NS, timeout=10)["subscription"]
    assert renewed["expires_on"] == (acme_subscription.expires_on + timedelta(days=30)).isoformat()
    # a later event proves the duplicate sent nothing in between
    subscriptions.change_subscription(tenant_id=world.acme.pk, status="past_due")
    alice.wait_for("subscription:updated", lambda d: d["subscription"]["status"] == "past_due", timeout=10)
    assert len(alice.received("payment:received")) == 1
    assert TenantPayment.objects.count() == 1
    drain(charlie, tenant_room(world.globex.pk), namespace=NS)
    assert charlie.received("payment:received") == []


def test_the_subscription_endpoint_shows_the_callers_tenant(world, acme_subscription, asgi_server):
    url = f"{asgi_server.url}/api/billing/subscription"
    bob = requests.get(url, headers={"Authorization": f"Bearer {world.token(world.bob)}"}, timeout=10)
    assert bob.status_code == 200 and bob.json()["subscription"]["tenant_id"] == world.acme.pk
    charlie = requests.get(url, headers={"Authorization": f"Bearer {world.token(world.charlie)}"}, timeout=10)
    assert charlie.status_code == 404
