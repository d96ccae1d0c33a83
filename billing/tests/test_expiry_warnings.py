"""`subscription:expiring {days_left}` once per threshold (14, 7, 3, 1 days), however often the
scheduler runs the check; a renewal starts the thresholds over. And the cron config loads."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import pytest

from billing import cron, subscriptions
from billing.models import ExpiryWarning, Subscription

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
    from conftest import process_env, spawn

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
