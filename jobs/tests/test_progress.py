"""The progress tracker throttles, delivers the latest value, and never throttles completion."""

from __future__ import annotations

import pytest

from jobs.models import JobRecord
from jobs.progress import ProgressTracker
from realtime.emit import project_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_throttles_but_delivers_the_latest_progress_and_the_completion(world, connect):
    bob = connect(world.token(world.bob))
    bob.call("subscribe_project", {"project_id": world.apollo.pk})
    record = JobRecord.objects.create(kind="test", project=world.apollo, status=JobRecord.Status.RUNNING)
    tracker = ProgressTracker(record.pk, min_interval=0.3)
    for pct in range(1, 51):
        tracker.set_progress(pct, f"at {pct}")
    latest = bob.wait_for("agent_progress", lambda d: d["progress"] == 50.0, timeout=5)
    assert latest["message"] == "at 50"
    tracker.increment_progress(10, "sixty")
    tracker.mark_complete("done", result={"ok": True})
    bob.wait_for("agent_status", lambda d: d["status"] == "success", timeout=5)
    progress = [d["progress"] for d in bob.received("agent_progress")]
    # 60 is pending in the throttle (or sent at once if the interval has passed): either way
    # mark_complete flushes it before the terminal status, so it is always the last progress
    assert progress[0] == 1.0 and progress[-1] == 60.0, progress
    assert bob.received("agent_progress")[-1]["message"] == "sixty"
    assert len(progress) <= 3  # 51 updates became at most three events
    record.refresh_from_db()
    assert (record.status, record.progress, record.message, record.result) == ("success", 100.0, "done", {"ok": True})
    assert all(d["_meta"]["room"] == project_room(world.apollo.pk) for d in bob.received("agent_progress"))


def test_progress_is_clamped_to_0_100(world):
    record = JobRecord.objects.create(kind="test", project=world.apollo, status=JobRecord.Status.RUNNING)
    tracker = ProgressTracker(record.pk, min_interval=0)
    tracker.set_progress(250)
    assert JobRecord.objects.get(pk=record.pk).progress == 100.0
    tracker.set_progress(-5)
    assert JobRecord.objects.get(pk=record.pk).progress == 0.0


@pytest.mark.parametrize("fail", [False, True], ids=["returns", "raises"])
def test_a_job_that_ends_without_mark_complete_still_delivers_its_latest_progress(world, connect, rq_worker, fail):
    """The latest progress was held in the throttle when the job just returned (the quick start's
    own pattern): it was sent after the end, and dropped, or never (the work horse exits). The
    worker now flushes the job's trackers before it reports the end."""
    from jobs.services import enqueue_tracked

    bob = connect(world.token(world.bob))
    bob.call("subscribe_project", {"project_id": world.apollo.pk})
    record = enqueue_tracked(
        "jobs.tests.tasks.progress_then_return",
        kind="test",
        project=world.apollo,
        kwargs={"parts": 3, "fail": fail},
        retries=0,
    )
    end = "error" if fail else "success"
    bob.wait_for("agent_status", lambda d: d["job_id"] == str(record.pk) and d["status"] == end, timeout=30)
    events = [
        (name, d.get("status") or d.get("message"))
        for _, name, d in list(bob.events)
        if name in ("agent_status", "agent_progress") and d["job_id"] == str(record.pk)
    ]
    assert events[-2:] == [("agent_progress", "part 3"), ("agent_status", end)], events
    record.refresh_from_db()
    assert record.status == end
    if not fail:
        assert (record.progress, record.message) == (100.0, "part 3")
