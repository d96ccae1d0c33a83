"""Admin pages for accounts, payments, balance sheets, liabilities, in-game jobs, plans,
subscriptions, tenant payments and notifications; saving a subscription or recording a tenant
payment there goes through the services, so the tenant gets its events."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from billing import tasks
from billing.bank import payment_key
from billing.models import BankAccount, Liability, Subscription, TenantPayment

pytestmark = pytest.mark.django_db(transaction=True)

NS = "/billing"
PAGES = [
    "bankaccount",
    "payment",
    "balancesheet",
    "liability",
    "liabilityoffset",
    "jobopening",
    "jobapplication",
    "employment",
    "plan",
    "subscription",
    "tenantpayment",
    "expirywarning",
]


@pytest.fixture
def staff(world):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        f"ops-{world.alice.username}", "ops@example.com", "password", is_staff=True, is_superuser=True
    )


def test_every_billing_page_renders_for_staff(world, bank, acme_subscription, staff, client):
    tasks.make_payment(user_id=world.alice.pk, amount="5.00", payee="x", idempotency_key=payment_key(1, "admin"))
    client.force_login(staff)
    for model in PAGES:
        assert client.get(f"/admin/billing/{model}/").status_code == 200, model
    assert client.get(f"/admin/billing/bankaccount/{bank.account.pk}/change/").status_code == 200
    assert client.get(f"/admin/billing/balancesheet/{bank.sheet.pk}/change/").status_code == 200
    assert client.get("/admin/notifications/notification/").status_code == 200
    assert client.get("/admin/billing/payment/add/").status_code == 403  # money moves only through services


def test_admin_edits_reach_the_tenant(world, acme_subscription, staff, client, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    client.force_login(staff)
    new_date = acme_subscription.expires_on + timedelta(days=5)
    r = client.post(
        f"/admin/billing/subscription/{acme_subscription.pk}/change/",
        {"tenant": world.acme.pk, "plan": acme_subscription.plan_id, "status": "active", "expires_on": new_date},
    )
    assert r.status_code == 302, r.content[:2000]
    updated = alice.wait_for("subscription:updated", namespace=NS, timeout=10)["subscription"]
    assert updated["expires_on"] == new_date.isoformat()
    r = client.post(
        "/admin/billing/tenantpayment/add/",
        {
            "tenant": world.acme.pk,
            "amount": "12.34",
            "currency": "EUR",
            "reference": "wire",
            "idempotency_key": "adm-1",
        },
    )
    assert r.status_code == 302, r.content[:2000]
    assert alice.wait_for("payment:received", namespace=NS, timeout=10)["amount"] == "12.34"
    assert TenantPayment.objects.get().amount == Decimal("12.34")
    assert Subscription.objects.get(pk=acme_subscription.pk).expires_on == new_date  # EUR: not the plan's currency


def test_money_fields_are_fixed_once_a_row_exists(world, bank, staff, client):
    """Staff can open an account or add a liability with an amount, but not edit one later."""
    client.force_login(staff)
    r = client.post(
        f"/admin/billing/liability/{bank.car_loan.pk}/change/",
        {"balance_sheet": bank.sheet.pk, "name": "Car loan (renamed)", "outstanding": "0.00"},
    )
    assert r.status_code == 302, r.content[:2000]
    bank.car_loan.refresh_from_db()
    assert (bank.car_loan.name, bank.car_loan.outstanding) == ("Car loan (renamed)", Decimal("50.00"))

    prefix = "liabilities"
    r = client.post(
        f"/admin/billing/balancesheet/{bank.sheet.pk}/change/",
        {
            "user": world.alice.pk,
            f"{prefix}-TOTAL_FORMS": "2",
            f"{prefix}-INITIAL_FORMS": "1",
            f"{prefix}-0-id": bank.car_loan.pk,
            f"{prefix}-0-balance_sheet": bank.sheet.pk,
            f"{prefix}-0-name": "Car loan",
            f"{prefix}-0-outstanding": "1.00",
            f"{prefix}-1-balance_sheet": bank.sheet.pk,
            f"{prefix}-1-name": "Mortgage",
            f"{prefix}-1-outstanding": "900.00",
        },
    )
    assert r.status_code == 302, r.content[:3000]
    assert dict(Liability.objects.values_list("name", "outstanding")) == {
        "Car loan": Decimal("50.00"),  # the inline edit was ignored
        "Mortgage": Decimal("900.00"),  # a new one is created with its amount
    }

    r = client.post(
        f"/admin/billing/bankaccount/{bank.account.pk}/change/",
        {"user": world.alice.pk, "balance": "1000000.00", "currency": "EUR"},
    )
    assert r.status_code == 302, r.content[:2000]
    account = BankAccount.objects.get(pk=bank.account.pk)
    assert (account.balance, account.currency) == (Decimal("100.00"), "USD")
