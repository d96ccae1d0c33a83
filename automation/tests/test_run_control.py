"""Controlling a live run by every path the issue names: the owner over HTTP (pause, resume) and
Socket.IO (cancel_automation), staff controlling someone else's run over both, a non-owner who is
not staff refused over both, and a resume that withdraws a pause still pending."""

from __future__ import annotations

import pytest

from automation import services
from automation.models import AutomationRun, Publication
from automation.tests.helpers import assert_published_exactly_once, in_room, published_event
from automation.tests.test_pause_resume import start

pytestmark = pytest.mark.django_db(transaction=True)

# Eight tickers at 0.5 s each: the run is cancelled a ticker or two after it resumes, long before
# its end, so the cancel always finds it running.
TICKERS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM"]


def control(controller, action: str, run_id: int, via: str) -> dict:
    """pause/resume/cancel over Socket.IO (`client`) or HTTP (`http`): both answer the same."""
    if via == "socketio":
        answer = controller["client"].call(f"{action}_automation", {"automation_id": run_id})
        assert answer["ok"], answer
        return answer
    http = controller["http"]
    r = http.post(f"{http.base}/api/automation/{run_id}/{action}", json={}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def assert_refused(world, api, connect, run_id: int) -> None:
    """Bob is on Alice's team, not staff: every control of her run is refused, over both paths."""
    bob = connect(world.token(world.bob))
    http = api(world.bob)
    for action in ("pause", "resume", "cancel"):
        ack = bob.call(f"{action}_automation", {"automation_id": run_id})
        assert ack == {"ok": False, "code": "not_found", "message": f"no automation run {run_id}"}, ack
        r = http.post(f"{http.base}/api/automation/{run_id}/{action}", json={}, timeout=10)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), r.text


@pytest.mark.parametrize(
    ("who", "pause_via", "resume_via", "cancel_via"),
    [("owner", "http", "http", "socketio"), ("staff", "socketio", "http", "http")],
)
def test_a_run_is_paused_resumed_and_cancelled_by_its_owner_or_staff(
    world, profile, api, connect, rq_worker, who, pause_via, resume_via, cancel_via
):
    if who == "staff":  # charlie: staff, in another tenant, nothing to do with Alice's run
        world.charlie.is_staff = True
        world.charlie.save(update_fields=["is_staff"])
    user = world.alice if who == "owner" else world.charlie
    alice = connect(world.token(world.alice))
    controller = {"client": alice if who == "owner" else connect(world.token(user)), "http": api(user)}
    run_id = start(api, world.alice, profile, tickers=TICKERS, step_seconds=0.25)
    room = f"run:{run_id}"
    assert alice.call("subscribe", {"room": room})["ok"]
    alice.wait_for("automation_progress", published_event(room), timeout=30)

    answer = control(controller, "pause", run_id, pause_via)
    assert (answer["automation_id"], answer["requested"]) == (run_id, "pause"), answer
    alice.wait_for("automation_paused", in_room(room), timeout=30)  # the owner sees it stop
    run = AutomationRun.objects.get(pk=run_id)
    assert (run.status, run.requested) == ("paused", "")
    done = list(run.ticker_states.filter(status="published").values_list("ticker", flat=True))
    assert done and done == TICKERS[: len(done)]

    assert_refused(world, api, connect, run_id)
    run.refresh_from_db()
    assert (run.status, run.requested) == ("paused", "")  # untouched by the refused requests

    answer = control(controller, "resume", run_id, resume_via)
    assert (answer["status"], answer["requested"]) == ("queued", ""), answer
    resumed = alice.wait_for("automation_resumed", in_room(room), timeout=10)
    assert resumed["remaining_count"] == len(TICKERS) - len(done)
    alice.wait_for("automation_progress", published_event(room, TICKERS[len(done)]), timeout=30)

    answer = control(controller, "cancel", run_id, cancel_via)
    assert (answer["status"], answer["requested"]) == ("running", "cancel"), answer
    alice.wait_for("automation_cancelled", in_room(room), timeout=30)
    run.refresh_from_db()
    assert (run.status, run.stage, run.requested) == ("cancelled", "cancelled", "")
    states = list(run.ticker_states.order_by("position"))
    published = [s.ticker for s in states if s.status == "published"]
    assert len(done) < len(published) < len(TICKERS) and published == TICKERS[: len(published)]
    assert [s.status for s in states[len(published) :]] == ["cancelled"] * (len(TICKERS) - len(published))
    assert list(Publication.objects.filter(run=run).order_by("pk").values_list("ticker", flat=True)) == published
    assert {s.ticker: s.attempts for s in states} == {t: int(t in published) for t in TICKERS}


def test_a_resume_while_the_pause_is_pending_withdraws_it(world, profile, connect, private_queue, private_worker):
    """The run is queued (its worker not started yet), so the pause is certainly still pending when
    the resume arrives: the same compare-and-set as for a running job between two tickers."""
    alice = connect(world.token(world.alice))
    run = services.start_run(
        owner=world.alice, tickers=["AAPL", "MSFT", "GOOGL"], profile_id=profile.pk, queue=private_queue.name
    )
    room = f"run:{run.pk}"
    assert alice.call("subscribe", {"room": room})["ok"]
    ack = alice.call("pause_automation", {"automation_id": run.pk})
    assert ack["ok"] and (ack["status"], ack["requested"]) == ("queued", "pause"), ack
    ack = alice.call("resume_automation", {"automation_id": run.pk})
    assert ack["ok"] and (ack["status"], ack["requested"]) == ("queued", ""), ack
    assert ack["message"] == "Pause withdrawn: running"
    resumed = alice.wait_for("automation_resumed", in_room(room), timeout=10)
    assert resumed["remaining_count"] == 3
    assert private_queue.count == 1  # withdrawing the pause enqueued no second job

    private_worker(private_queue, RQ_WITH_SCHEDULER="0")  # no retries here: no scheduler to stop
    final = alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=60)
    assert final["data"]["published"] == 3
    assert [d for d in alice.received("automation_paused") if in_room(room)(d)] == []
    run.refresh_from_db()
    assert (run.status, run.requested) == ("completed", "")
    assert_published_exactly_once(run)
