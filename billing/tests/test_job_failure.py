"""A billing job that fails for good (every retry, with back-off through the worker's scheduler)
still ends its flow: the player gets the completion event once, in seed 000's error shape."""

from __future__ import annotations

import django_rq
import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from billing import tasks
from billing.models import Payment
from realtime.emit import user_room
from testing.waits import drain, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_retry_policy_backs_off(settings):
    retry = tasks.retry_policy()
    assert retry.max == 3 and retry.intervals == [5, 30, 120] == settings.BILLING_RETRY_INTERVALS


def test_a_job_that_fails_for_good_ends_with_the_error_shape_once(world, bank, connect, rq_worker, settings):
    settings.BILLING_RETRY_INTERVALS = [1, 1]  # two retries, each scheduled a second later
    alice = connect(world.token(world.alice))
    # "oops" is not an amount: the job raises on every attempt.
    tasks.enqueue(
        "billing.tasks.make_payment",
        kwargs={"user_id": world.alice.pk, "amount": "oops", "payee": "x", "idempotency_key": "payment:fail:1"},
    )
    failed = alice.wait_for("payment_complete", timeout=60)
    assert failed == {
        "username": world.alice.username,
        "error": "job_failed",
        "success": False,
        "message": tasks.FAILED_MESSAGES["payment_complete"],
        "_meta": failed["_meta"],
    }
    connection = django_rq.get_connection("default")
    registry = django_rq.get_queue(tasks.queue_name()).failed_job_registry

    def failed_job() -> Job | None:
        for job_id in registry.get_job_ids():
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
            if (job.kwargs or {}).get("idempotency_key") == "payment:fail:1":
                return job
        return None

    wait_until(lambda: failed_job() is not None, timeout=10, what="the job in the failed registry")
    job = failed_job()
    assert job.retries_left == 0 and job.get_status() == "failed"  # every retry was used first
    drain(alice, user_room(world.alice.pk))
    assert len(alice.received("payment_complete")) == 1
    assert not Payment.objects.exists()
    bank.account.refresh_from_db()
    assert str(bank.account.balance) == "100.00"
