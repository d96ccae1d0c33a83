"""A payment job that runs twice (RQ retry, double submit) moves the money once: the second run
finds the first run's row by its idempotency key and answers the same."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from billing import bank as bank_service
from billing import tasks
from billing.models import BankAccount, LiabilityOffset, Payment
from notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_moves_money_once_when_the_same_job_runs_twice(world, bank, connect):
    alice = connect(world.token(world.alice))
    kwargs = {
        "user_id": world.alice.pk,
        "amount": "40.00",
        "payee": "Speedy Parcels",
        "idempotency_key": bank_service.payment_key(world.alice.pk, "twice"),
    }
    first = tasks.make_payment(**kwargs)
    second = tasks.make_payment(**kwargs)
    assert first["ok"] and second["ok"]
    assert first["payload"]["payment_id"] == second["payload"]["payment_id"]
    assert (first["payload"]["replayed"], second["payload"]["replayed"]) == (False, True)
    events = [alice.wait_for("payment_complete", count=n, timeout=10) for n in (1, 2)]
    assert [e["payload"]["balance"] for e in events] == ["60.00", "60.00"]
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("60.00")
    assert Payment.objects.filter(account=bank.account).count() == 1
    assert Notification.objects.filter(user=world.alice, title="Payment sent").count() == 1


def test_it_refuses_a_key_reused_for_a_different_payment(world, bank):
    key = bank_service.payment_key(world.alice.pk, "reused")
    assert tasks.make_payment(user_id=world.alice.pk, amount="10.00", payee="A", idempotency_key=key)["ok"]
    other = tasks.make_payment(user_id=world.alice.pk, amount="20.00", payee="A", idempotency_key=key)
    assert other["ok"] is False and other["error"] == "idempotency_conflict"
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("90.00")


def test_it_offsets_a_liability_once_when_the_same_job_runs_twice(world, bank):
    kwargs = {
        "user_id": world.alice.pk,
        "liability_id": bank.car_loan.pk,
        "amount": "20.00",
        "idempotency_key": bank_service.offset_key(world.alice.pk, "twice"),
    }
    assert tasks.offset_liability(**kwargs)["ok"]
    assert tasks.offset_liability(**kwargs)["payload"]["replayed"] is True
    bank.car_loan.refresh_from_db()
    assert bank.car_loan.outstanding == Decimal("30.00")
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("80.00")
    assert LiabilityOffset.objects.count() == 1


def test_a_refused_offset_stays_refused_when_its_job_runs_again(world, bank):
    """A rerun (RQ retry, double submit) after the player topped up must not move money later."""
    BankAccount.objects.filter(pk=bank.account.pk).update(balance=Decimal("10.00"))
    kwargs = {
        "user_id": world.alice.pk,
        "liability_id": bank.car_loan.pk,
        "amount": "30.00",
        "idempotency_key": bank_service.offset_key(world.alice.pk, "refused"),
    }
    first = tasks.offset_liability(**kwargs)
    assert (first["ok"], first["error"]) == (False, "insufficient_funds")
    BankAccount.objects.filter(pk=bank.account.pk).update(balance=Decimal("100.00"))
    again = tasks.offset_liability(**kwargs)
    assert (again["ok"], again["error"]) == (False, "insufficient_funds")
    bank.car_loan.refresh_from_db()
    assert bank.car_loan.outstanding == Decimal("50.00")
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("100.00")
    assert LiabilityOffset.objects.get().status == "refused"


def test_a_double_submit_with_one_idempotency_key_pays_once(world, bank, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    url = f"{asgi_server.url}/api/bank/{world.alice.username}/make_payment"
    headers = {"Authorization": f"Bearer {world.token(world.alice)}", "Idempotency-Key": "order-1234"}
    for _ in range(2):
        r = requests.post(url, json={"amount": "25.00", "payee": "Shop"}, headers=headers, timeout=10)
        assert r.status_code == 202
    events = [alice.wait_for("payment_complete", count=n, timeout=30) for n in (1, 2)]
    assert {e["payload"]["payment_id"] for e in events} == {Payment.objects.get().pk}
    assert sorted(e["payload"]["replayed"] for e in events) == [False, True]
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("75.00")
