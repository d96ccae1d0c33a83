"""`subscription:expiring {days_left}` once per threshold (14, 7, 3, 1 days), however often the
scheduler runs the check; a renewal starts the thresholds over. And the cron config loads."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import pytest

from billing import cron, subscriptions
from billing.models import ExpiryWarning, Subscription
from realtime.emit import tenant_room
from testing.waits import drain

pytestmark = pytest.mark.django_db(transaction=True)

NS = "/billing"


def run_schedule(expires_on, days_before: list[int]) -> None:
    """Run the cron function as the scheduler would, several times a day, on each given day."""
    for days in days_before:
        for _ in range(3):
            cron.warn_expiring_subscriptions(today=(expires_on - timedelta(days=days)).isoformat())


def test_it_warns_once_per_threshold_across_scheduler_runs(world, acme_subscription, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    charlie = connect(world.token(world.charlie), namespaces=[NS])
    expires_on = acme_subscription.expires_on
    run_schedule(expires_on, [20, 15, 14, 13, 10, 8, 7, 6, 4, 3, 2, 1, 0])
    alice.wait_for("subscription:expiring", namespace=NS, count=4, timeout=10)
    subscriptions.change_subscription(tenant_id=world.acme.pk, status="active")  # a marker after the runs
    alice.wait_for("subscription:updated", namespace=NS, timeout=10)
    assert [e["days_left"] for e in alice.received("subscription:expiring")] == [14, 7, 3, 1]
    assert sorted(ExpiryWarning.objects.values_list("threshold_days", flat=True)) == [1, 3, 7, 14]
    drain(charlie, tenant_room(world.globex.pk), namespace=NS)
    assert charlie.received("subscription:expiring") == []


def test_a_late_first_run_sends_one_warning_and_a_renewal_starts_over(world, acme_subscription, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    first_period = acme_subscription.expires_on
    run_schedule(first_period, [5, 5, 4])  # 14 and 7 were both crossed before the first run
    renewed = first_period + timedelta(days=30)
    subscriptions.change_subscription(tenant_id=world.acme.pk, expires_on=renewed)
    run_schedule(renewed, [30, 14])
    alice.wait_for("subscription:expiring", namespace=NS, count=2, timeout=10)
    subscriptions.change_subscription(tenant_id=world.acme.pk, status="active")
    alice.wait_for("subscription:updated", lambda d: d["subscription"]["expires_on"] == renewed.isoformat(), count=2)
    assert [e["days_left"] for e in alice.received("subscription:expiring")] == [5, 14]


def test_it_expires_lapsed_subscriptions_once(world, acme_subscription, connect):
    alice = connect(world.token(world.alice), namespaces=[NS])
    after = (acme_subscription.expires_on + timedelta(days=1)).isoformat()
    assert cron.expire_lapsed_subscriptions(today=after) == 1
    assert cron.expire_lapsed_subscriptions(today=after) == 0
    assert alice.wait_for("subscription:updated", timeout=10)["subscription"]["status"] == "expired"
    assert Subscription.objects.get(pk=acme_subscription.pk).status == "expired"
    assert cron.warn_expiring_subscriptions(today=after) == 0


def test_the_cron_config_registers_the_billing_jobs():
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("project.cron")
    names = {job.func.__module__ + "." + job.func.__name__: job for job in scheduler.get_jobs()}
    assert "billing.cron.warn_expiring_subscriptions" in names
    assert "billing.cron.expire_lapsed_subscriptions" in names
    assert names["billing.cron.warn_expiring_subscriptions"].queue_name == "default"


def test_the_cron_scheduler_starts_with_the_billing_jobs(asgi_server):
    from testing.processes import process_env, spawn

    proc = spawn("runcron", [sys.executable, "manage.py", "runcron", "project.cron"], process_env())
    try:
        deadline = time.monotonic() + 30
        while "cron scheduler with" not in proc.log():
            assert proc.popen.poll() is None, proc.log()
            assert time.monotonic() < deadline, proc.log()
            time.sleep(0.1)  # polling a starting process's log: no event to wait on
        assert proc.popen.poll() is None
    finally:
        proc.stop()


def test_rqs_scheduler_and_a_worker_warn_once_across_several_runs(world, acme_subscription, connect, rq_worker):
    """End to end: RQ's cron scheduler (`manage.py runcron`, every second here) enqueues the check,
    a real worker runs it, and however many times that happens the tenant hears once."""
    import django_rq
    from django.utils import timezone
    from rq.cron import get_cron_job_ids
    from rq.job import Job, JobStatus
    from rq.serializers import JSONSerializer

    from realtime.redis import sync_client
    from testing.processes import process_env, spawn

    alice = connect(world.token(world.alice), namespaces=[NS])
    charlie = connect(world.token(world.charlie), namespaces=[NS])
    acme_subscription.expires_on = timezone.localdate() + timedelta(days=7)
    acme_subscription.save()
    history = "billing.cron.warn_expiring_subscriptions"
    redis = sync_client()
    redis.delete(f"rq:cron_job:{history}:jobs")
    django_rq.get_queue("default").empty()  # a check an earlier scheduler left queued would count here
    cron_proc = spawn(
        "runcron",
        [sys.executable, "manage.py", "runcron", "project.cron"],
        process_env(BILLING_CRON_INTERVAL_SECONDS="1"),
    )
    try:
        runs = 4
        deadline = time.monotonic() + 60
        while True:  # the scheduler's own record of what it enqueued, and the worker's results
            ids = get_cron_job_ids(history, connection=redis)
            done = [
                i
                for i in ids
                if Job.fetch(i, connection=redis, serializer=JSONSerializer).get_status() == JobStatus.FINISHED
            ]
            if len(done) >= runs:
                break
            assert cron_proc.popen.poll() is None, cron_proc.log()
            assert time.monotonic() < deadline, f"{len(done)} of {runs} scheduled runs finished: {cron_proc.log()}"
            time.sleep(0.2)  # polling the scheduler's job history: no event to wait on
    finally:
        cron_proc.stop()
    assert (
        sum(Job.fetch(i, connection=redis, serializer=JSONSerializer).return_value() for i in done) == 1
    )  # warnings sent, over all runs
    subscriptions.change_subscription(tenant_id=world.acme.pk, status="active")  # a marker after the runs
    alice.wait_for("subscription:updated", namespace=NS, timeout=10)
    assert [e["days_left"] for e in alice.received("subscription:expiring")] == [7]
    # 14 was crossed too before the first run: recorded as covered, not announced on its own
    assert sorted(ExpiryWarning.objects.values_list("threshold_days", flat=True)) == [7, 14]
    drain(charlie, tenant_room(world.globex.pk), namespace=NS)
    assert charlie.received("subscription:expiring") == []
