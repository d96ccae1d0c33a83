"""Pause, resume and cancel a live run over Socket.IO and HTTP: the job stops at the next ticker
boundary, records what remains, and resume continues with exactly the remaining tickers (no
ticker published twice, none skipped)."""

from __future__ import annotations

import pytest

from automation.models import AutomationRun, Publication
from automation.tests.helpers import assert_published_exactly_once, in_room, published_event

pytestmark = pytest.mark.django_db(transaction=True)

TICKERS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META"]


def start(api, user, profile, tickers=TICKERS, step_seconds=0.25) -> int:
    http = api(user)
    r = http.post(
        f"{http.base}/start-automation",
        json={"tickers": tickers, "profile_id": profile.pk, "step_seconds": step_seconds},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "started"
    return r.json()["automation_id"]


def test_it_pauses_at_a_ticker_boundary_and_resumes_the_rest(world, profile, api, connect, rq_worker):
    alice = connect(world.token(world.alice))
    run_id = start(api, world.alice, profile)
    room = f"run:{run_id}"
    ack = alice.call("subscribe", {"room": room})
    assert ack["ok"] and ack["snapshot"]["run"]["automation_id"] == run_id

    alice.wait_for("automation_progress", published_event(room), timeout=30)
    ack = alice.call("pause_automation", {"automation_id": run_id})
    assert ack["ok"] and ack["requested"] == "pause", ack
    paused = alice.wait_for("automation_paused", in_room(room), timeout=30)
    assert paused["automation_id"] == run_id

    run = AutomationRun.objects.get(pk=run_id)
    assert (run.status, run.stage, run.requested) == ("paused", "paused", "")
    done = [s.ticker for s in run.ticker_states.filter(status="published")]
    left = [s.ticker for s in run.ticker_states.filter(status="pending").order_by("position")]
    assert done and left and done + left == TICKERS, (done, left)
    assert f"{len(left)} tickers remaining" in paused["message"]
    assert Publication.objects.filter(run=run).count() == len(done)
    # Stopped between tickers: each done one attempted once, none of the rest started.
    attempts = {s.ticker: s.attempts for s in run.ticker_states.all()}
    assert attempts == {t: 1 if t in done else 0 for t in TICKERS}, attempts

    ack = alice.call("resume_automation", {"automation_id": run_id})
    assert ack["ok"] and ack["status"] == "queued"
    resumed = alice.wait_for("automation_resumed", in_room(room), timeout=10)
    assert resumed["remaining_count"] == len(left)
    final = alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=60)
    assert final["percent"] == 100 and final["data"]["published"] == len(TICKERS)

    run.refresh_from_db()
    assert run.status == "completed"
    assert_published_exactly_once(run)
    published = [d["data"]["ticker"] for d in alice.received("automation_progress") if published_event(room)(d)]
    assert published == TICKERS  # one "published" event per ticker, in order
    # The user room got the same story (seed 003 clients listen there).
    assert alice.wait_for(
        "automation_progress", lambda d: d["_meta"]["room"].startswith("user:") and d["stage"] == "complete"
    )


def test_it_cancels_over_http_and_skips_the_rest(world, profile, api, connect, rq_worker):
    alice = connect(world.token(world.alice))
    run_id = start(api, world.alice, profile)
    room = f"run:{run_id}"
    alice.call("subscribe", {"room": room})
    alice.wait_for("automation_progress", published_event(room), timeout=30)
    http = api(world.alice)
    r = http.post(f"{http.base}/api/automation/{run_id}/cancel", json={}, timeout=10)
    assert r.status_code == 200 and r.json()["requested"] == "cancel", r.text
    alice.wait_for("automation_cancelled", in_room(room), timeout=30)
    run = AutomationRun.objects.get(pk=run_id)
    assert run.status == "cancelled" and run.finished_at
    statuses = [s.status for s in run.ticker_states.order_by("position")]
    assert "cancelled" in statuses and set(statuses) <= {"published", "cancelled"}
    assert Publication.objects.filter(run=run).count() == statuses.count("published")
    # A finished run refuses further control with a clear error.
    r = http.post(f"{http.base}/api/automation/{run_id}/resume", json={}, timeout=10)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"


def test_it_lets_only_the_owner_or_staff_control_and_watch_a_run(world, profile, api, connect, rq_worker):
    run_id = start(api, world.alice, profile, tickers=["AAPL", "MSFT"], step_seconds=0.5)
    bob = connect(world.token(world.bob))
    for event in ("pause_automation", "resume_automation", "cancel_automation"):
        ack = bob.call(event, {"automation_id": run_id})
        assert ack == {"ok": False, "code": "not_found", "message": f"no automation run {run_id}"}
    assert bob.wait_for("error", lambda d: d["code"] == "not_found")
    assert bob.call("subscribe", {"room": f"run:{run_id}"})["code"] == "forbidden"
    assert bob.call("pause_automation", {"automation_id": "1; drop"})["code"] == "not_found"
    assert bob.call("pause_automation", {})["code"] == "invalid_payload"
    http = api(world.bob)
    assert http.get(f"{http.base}/api/automation/{run_id}", timeout=10).status_code == 404
    assert http.post(f"{http.base}/api/automation/{run_id}/pause", json={}, timeout=10).status_code == 404

    world.charlie.is_staff = True
    world.charlie.save(update_fields=["is_staff"])
    staff = connect(world.token(world.charlie))
    ack = staff.call("subscribe", {"room": f"run:{run_id}"})
    assert ack["ok"] and ack["snapshot"]["run"]["tickers"][0]["ticker"] == "AAPL"
    final = staff.wait_for("automation_progress", lambda d: d["stage"] == "complete", timeout=30)
    assert final["automation_id"] == run_id
