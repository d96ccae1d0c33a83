"""Billing fixtures: a funded player, and RQ workers on a queue of the test's own.

`private_worker(queue, **env)` starts a real worker process (billing/tests/private_worker.py:
TrackingWorker, JSON serializer, the root harness's environment) on a queue of the test's own.
The kill test needs that: on "default" the session's `rq_worker` could take the job instead of
the worker the test means to kill, and `manage.py rqworker` only serves queues in RQ_QUEUES."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest


@pytest.fixture(autouse=True)
def fresh_dedupe_window():
    """Forget earlier tests' keyless requests: user ids repeat from one test to the next, so one
    test's payment would otherwise be a duplicate of another's within the dedupe window."""
    from billing import dedupe
    from realtime.redis import sync_client

    redis = sync_client()
    for key in redis.scan_iter(match=dedupe.CLAIM_KEY.format("*")):
        redis.delete(key)


@dataclass
class Bank:
    account: object
    sheet: object
    car_loan: object


@pytest.fixture
def bank(world) -> Bank:
    from billing.models import BalanceSheet, BankAccount, Liability

    account = BankAccount.objects.create(user=world.alice, balance=Decimal("100.00"))
    sheet = BalanceSheet.objects.create(user=world.alice)
    car_loan = Liability.objects.create(balance_sheet=sheet, name="Car loan", outstanding=Decimal("50.00"))
    return Bank(account, sheet, car_loan)


@pytest.fixture
def acme_subscription(world):
    """Acme on the basic plan, expiring in 20 days (no warning due yet)."""
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import Plan, Subscription

    plan = Plan.objects.create(code=f"basic-{uuid.uuid4().hex[:6]}", name="Basic", price=Decimal("29.00"))
    return Subscription.objects.create(
        tenant=world.acme, plan=plan, expires_on=timezone.localdate() + timedelta(days=20)
    )
