"""A run whose RQ job is gone (work horse killed with no retry left, Redis lost its jobs) does
not stay running: the cron sweeper marks it failed and tells the owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation import services
from automation.models import AutomationRun
from automation.sweeper import sweep_stale_runs

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_fails_runs_whose_job_is_gone_and_leaves_live_ones(world, profile, connect, private_queue):
    alice = connect(world.token(world.alice))
    stale = services.start_run(
        owner=world.alice, tickers=["AAPL", "MSFT"], profile_id=profile.pk, queue=private_queue.name
    )
    fresh = services.start_run(owner=world.alice, tickers=["AAPL"], profile_id=profile.pk, queue=private_queue.name)
    queued = services.start_run(owner=world.alice, tickers=["AAPL"], profile_id=profile.pk, queue=private_queue.name)
    old = timezone.now() - timedelta(minutes=5)
    AutomationRun.objects.filter(pk=stale.pk).update(status="running", job_id="automation-gone", created_at=old)
    AutomationRun.objects.filter(pk=queued.pk).update(created_at=old)  # its job is still in its queue

    assert sweep_stale_runs() == 1
    stale.refresh_from_db()
    assert stale.status == "failed" and "stopped unexpectedly" in stale.error
    assert AutomationRun.objects.get(pk=fresh.pk).status == "queued"
    assert AutomationRun.objects.get(pk=queued.pk).status == "queued"
    told = alice.wait_for("automation_error", lambda d: d.get("automation_id") == stale.pk, timeout=10)
    assert told["error_type"] == "run_failed" and told["recoverable"] is True
    assert sweep_stale_runs() == 0
