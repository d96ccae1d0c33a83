"""A tenant payment delivered twice at once (a webhook retried while the first is in flight),
for a tenant with no subscription row to lock: one payment is recorded and both calls answer
with it, neither raises IntegrityError. (On SQLite, whose transactions here take the write lock
when they begin, the race can't happen; CI runs this on PostgreSQL, where it does.)"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections

from billing import subscriptions
from billing.models import TenantPayment

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 20


def test_concurrent_duplicates_record_one_payment(world):
    errors: list[BaseException] = []
    results: dict[str, list[tuple[int, bool]]] = {}
    lock = threading.Lock()

    def pay(key: str, barrier: threading.Barrier) -> None:
        try:
            barrier.wait(10)
            payment, created = subscriptions.record_payment(
                tenant_id=world.globex.pk, amount=Decimal("10.00"), currency="USD", idempotency_key=key
            )
            with lock:
                results.setdefault(key, []).append((payment.pk, created))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            with lock:
                errors.append(exc)
        finally:
            close_old_connections()

    for n in range(ROUNDS):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=pay, args=(f"inv-race-{n}", barrier)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == []
    for key, answers in results.items():
        assert len({pk for pk, _ in answers}) == 1 and sorted(c for _, c in answers) == [False, True], (key, answers)
    assert TenantPayment.objects.filter(tenant=world.globex).count() == ROUNDS
