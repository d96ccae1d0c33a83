"""A failing ticker does not stop the run: it is recorded, automation_error says whether it is
recoverable, and a retry of the failed tickers can be requested (and publishes each once)."""

from __future__ import annotations

import pytest

from automation.models import AutomationRun, Publication
from automation.tests.helpers import in_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_records_failures_and_retries_the_failed_tickers(world, profile, api, connect, rq_worker):
    profile.accepting = False  # the publication store is down
    profile.save()
    alice = connect(world.token(world.alice))
    http = api(world.alice)
    r = http.post(
        f"{http.base}/start-automation",
        json={"tickers": ["AAPL", "ZZZZ", "MSFT"], "profile_id": profile.pk},
        timeout=10,
    )
    run_id = r.json()["automation_id"]
    room = f"run:{run_id}"
    alice.call("subscribe", {"room": room})
    done = alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=30)
    assert done["data"] == {"total_tickers": 3, "published": 0, "failed": 3, "cancelled": 0}
    errors = {e["ticker"]: e for e in alice.received("automation_error") if in_room(room)(e)}
    assert errors["ZZZZ"]["error_type"] == "no_price_data" and errors["ZZZZ"]["recoverable"] is False
    assert errors["AAPL"]["error_type"] == "publish_failed" and errors["AAPL"]["recoverable"] is True
    assert "not accepting posts" in errors["MSFT"]["message"]
    run = AutomationRun.objects.get(pk=run_id)
    assert run.status == "completed"
    assert {s.ticker: (s.status, s.recoverable) for s in run.ticker_states.all()} == {
        "AAPL": ("failed", True),
        "ZZZZ": ("failed", False),
        "MSFT": ("failed", True),
    }

    profile.accepting = True  # the store is back
    profile.save()
    r = http.post(f"{http.base}/api/automation/{run_id}/retry", json={}, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text
    resumed = alice.wait_for("automation_resumed", in_room(room), timeout=10)
    assert resumed["remaining_count"] == 3
    done = alice.wait_for(
        "automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=30, count=2
    )
    assert done["data"]["published"] == 2 and done["data"]["failed"] == 1
    run.refresh_from_db()
    states = {s.ticker: s for s in run.ticker_states.all()}
    assert states["AAPL"].status == states["MSFT"].status == "published"
    assert states["AAPL"].attempts == 2 and states["ZZZZ"].status == "failed"
    assert sorted(Publication.objects.filter(run=run).values_list("ticker", flat=True)) == ["AAPL", "MSFT"]
    r = http.post(f"{http.base}/api/automation/{run_id}/resume", json={}, timeout=10)
    assert r.status_code == 409


def test_retry_automation_over_socketio_is_for_the_owner_or_staff(world, profile, connect, private_queue, rq_worker):
    from automation import services

    run = services.start_run(
        owner=world.alice, tickers=["AAPL", "MSFT"], profile_id=profile.pk, queue=private_queue.name
    )
    AutomationRun.objects.filter(pk=run.pk).update(status="completed", stage="complete")
    run.ticker_states.filter(ticker="MSFT").update(status="failed")
    run.ticker_states.filter(ticker="AAPL").update(status="published")
    bob = connect(world.token(world.bob))
    ack = bob.call("retry_automation", {"automation_id": run.pk})
    assert ack == {"ok": False, "code": "not_found", "message": f"no automation run {run.pk}"}
    assert AutomationRun.objects.get(pk=run.pk).status == "completed"

    AutomationRun.objects.filter(pk=run.pk).update(queue="default")  # where the session's worker listens
    alice = connect(world.token(world.alice))
    room = f"run:{run.pk}"
    alice.call("subscribe", {"room": room})
    ack = alice.call("retry_automation", {"automation_id": run.pk})
    assert ack["ok"] and ack["status"] == "queued", ack
    assert alice.wait_for("automation_resumed", in_room(room), timeout=10)["remaining_count"] == 1
    done = alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=30)
    assert done["data"]["published"] == 2
    assert alice.call("retry_automation", {"automation_id": run.pk})["code"] == "nothing_to_retry"
