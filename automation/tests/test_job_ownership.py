"""A superseded job stops (D3): if a newer job takes the run (the reaper retried a stalled but
living worker's job), the old job notices at its next ticker boundary and stops quietly: no more
checkpoints, no more events, nothing published twice by two jobs."""

from __future__ import annotations

import django_rq
import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from automation import services
from automation.models import AutomationRun
from automation.tests.helpers import in_room, published_event
from realtime.emit import run_room
from testing.waits import drain, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TICKERS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META"]


def rq_job(job_id: str) -> Job:
    return Job.fetch(job_id, connection=django_rq.get_connection("default"), serializer=JSONSerializer)


def test_an_old_job_stops_at_the_next_boundary_when_a_newer_one_owns_the_run(world, profile, connect, rq_worker):
    alice = connect(world.token(world.alice))
    run = services.start_run(owner=world.alice, tickers=TICKERS, profile_id=profile.pk, step_seconds=0.5)
    room = run_room(run.pk)
    assert alice.call("subscribe", {"room": room})["ok"]
    alice.wait_for("automation_progress", published_event(room), timeout=30)

    # A newer job takes the run (what claim() does for a retried job).
    AutomationRun.objects.filter(pk=run.pk).update(job_id=f"automation-{run.pk}-newer")
    published_before = list(run.ticker_states.filter(status="published").values_list("ticker", flat=True))

    old = rq_job(run.job_id)
    wait_until(lambda: old.get_status(refresh=True) == "finished", timeout=30, what="the old job ending")
    assert old.return_value() == {"run_id": run.pk, "superseded": True}
    drain(alice, room)

    statuses = list(run.ticker_states.order_by("position").values_list("status", flat=True))
    k = len(published_before)
    # Nothing more was checkpointed; a ticker in flight when the run was taken stays as the newer
    # job will find it ("processing": it is done first).
    assert statuses[:k] == ["published"] * k and statuses[k] in ("pending", "processing"), statuses
    assert statuses[k + 1 :] == ["pending"] * (len(TICKERS) - k - 1), statuses
    published_events = [d["data"]["ticker"] for d in alice.received("automation_progress") if published_event(room)(d)]
    assert published_events == published_before
    stages = [d["stage"] for d in alice.received("automation_progress") if in_room(room)(d)]
    assert not set(stages) & {"complete", "cancelled", "paused", "error"}, stages
    run.refresh_from_db()
    assert (run.status, run.job_id) == ("running", f"automation-{run.pk}-newer")
