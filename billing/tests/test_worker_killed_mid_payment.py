"""kill -9 of the worker in the middle of a payment: a new worker reaps the dead one's job on
startup, RQ retries it, the money moves exactly once and the completion event arrives.

The job stops at a checkpoint (billing.testhooks, enabled by the first worker's environment
only): before its transaction commits (the database rolls the half-done payment back) or after
it commits but before the event is sent (the retry finds the payment by its idempotency key)."""

from __future__ import annotations

import json
import os
import signal
from decimal import Decimal

import django_rq
import pytest

from billing import bank as bank_service
from billing import tasks, testhooks
from billing.models import BankAccount, Payment
from jobs.reaper import ALIVE_KEY
from notifications.models import Notification
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("checkpoint", ["payment:before_commit", "payment:after_commit"])
def test_it_moves_money_once_when_the_worker_dies_mid_payment(
    world, bank, connect, private_queue, private_worker, checkpoint
):
    redis = django_rq.get_connection("default")
    redis.delete(testhooks.CHECKPOINTS_KEY)
    # No scheduler in the worker to be killed: its lock would outlive it and delay the retry
    # (scheduled with back-off) that the second worker's scheduler must enqueue.
    first = private_worker(
        private_queue, BILLING_PAUSE_AT=checkpoint, BILLING_PAUSE_SECONDS="120", RQ_WITH_SCHEDULER="0"
    )
    alice = connect(world.token(world.alice))
    key = bank_service.payment_key(world.alice.pk, f"kill-{checkpoint}")
    tasks.enqueue(
        "billing.tasks.make_payment",
        kwargs={"user_id": world.alice.pk, "amount": "30.00", "payee": "Car dealer", "idempotency_key": key},
        queue=private_queue,
    )
    reached = redis.blpop([testhooks.CHECKPOINTS_KEY], timeout=60)
    assert reached is not None, f"the job never reached {checkpoint}:\n{first.log()}"
    report = json.loads(reached[1])
    assert (report["checkpoint"], report["key"]) == (checkpoint, key)

    # A lost machine: the worker and its work horse (kill9 kills each child's process group too, as
    # RQ puts the horse in one of its own). The horse's pid, from the checkpoint, makes sure of it.
    first.kill9()
    try:
        os.kill(report["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass
    committed = checkpoint.endswith("after_commit")
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("70.00" if committed else "100.00")
    # The dead worker's liveness key lapses (its TTL), then a new worker reaps the job at startup.
    wait_until(lambda: not redis.exists(ALIVE_KEY.format(report["worker"])), timeout=30, what="liveness expiry")
    second = private_worker(private_queue)

    done = alice.wait_for("payment_complete", timeout=60)
    assert done["payload"]["amount"] == "30.00", second.log()
    assert done["payload"]["balance"] == "70.00"
    assert done["payload"]["replayed"] is committed
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("70.00")
    assert Payment.objects.filter(account=bank.account, status="completed").count() == 1
    assert Notification.objects.filter(user=world.alice, title="Payment sent").count() == 1
    assert len(alice.received("payment_complete")) == 1
