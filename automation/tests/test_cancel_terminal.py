"""Cancelling a running run sends its terminal `automation_progress` once (D5): "cancelled" goes
through the job's throttled reporter, replacing anything pending, and nothing follows it."""

from __future__ import annotations

import pytest

from automation import services
from automation.tests.helpers import in_room, published_event
from automation.tests.test_job_ownership import rq_job
from realtime.emit import run_room, user_room
from testing.waits import drain, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_cancel_sends_one_terminal_progress_event_and_nothing_after(world, profile, api, connect, rq_worker):
    alice = connect(world.token(world.alice))
    run = services.start_run(
        owner=world.alice, tickers=["AAPL", "MSFT", "GOOGL", "AMZN"], profile_id=profile.pk, step_seconds=0.3
    )
    room = run_room(run.pk)
    assert alice.call("subscribe", {"room": room})["ok"]
    alice.wait_for("automation_progress", published_event(room), timeout=30)
    http = api(world.alice)
    r = http.post(f"{http.base}/api/automation/{run.pk}/cancel", json={}, timeout=10)
    assert r.status_code == 200, r.text
    alice.wait_for("automation_cancelled", in_room(room), timeout=30)
    job = rq_job(run.job_id)
    wait_until(lambda: job.get_status(refresh=True) == "finished", timeout=30, what="the job ending")
    drain(alice, room)
    drain(alice, user_room(world.alice.pk))

    for r_ in (room, user_room(world.alice.pk)):
        progress = [d for d in alice.received("automation_progress") if in_room(r_)(d) and d["automation_id"] == run.pk]
        stages = [d["stage"] for d in progress]
        assert stages.count("cancelled") == 1, (r_, stages)
        assert stages[-1] == "cancelled", (r_, stages)  # nothing after the terminal event
        assert progress[-1]["data"]["cancelled"] >= 1
