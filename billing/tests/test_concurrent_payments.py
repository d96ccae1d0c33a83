"""Payments racing on one account are serialised by the account's row lock: the balance never
goes below zero and every completed payment is accounted for."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from billing import bank as bank_service
from billing.models import BankAccount, Payment

pytestmark = pytest.mark.django_db(transaction=True)


def test_racing_payments_never_overdraw(world, bank):
    def attempt(n: int) -> bool:
        try:
            return bank_service.pay(
                user_id=world.alice.pk,
                amount=Decimal("15.00"),
                payee=f"shop {n}",
                idempotency_key=bank_service.payment_key(world.alice.pk, f"race-{n}"),
            ).ok
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(10)))
    assert results.count(True) == 6 and results.count(False) == 4
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("10.00")
    completed = Payment.objects.filter(account=bank.account, status="completed")
    assert sum(p.amount for p in completed) == Decimal("90.00")
    assert sorted(p.balance_after for p in completed) == [
        Decimal(x) for x in ("10.00", "25.00", "40.00", "55.00", "70.00", "85.00")
    ]
