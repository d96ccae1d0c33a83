"""kill -9 of the worker (and its work horse) in the middle of a run. A new worker reaps the
dead one's job on startup (jobs/reaper.py); then either RQ retries it and the run carries on
from its checkpoint (no ticker published twice, none skipped), or, with no retry left, the run
is marked failed with a clear message, the owner is told, and a retry finishes the rest."""

from __future__ import annotations

import os
import signal

import django_rq
import pytest

from automation import services
from automation.tests.helpers import assert_published_exactly_once, in_room, published_event
from jobs.reaper import ALIVE_KEY
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TICKERS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]


def kill_mid_run(world, profile, connect, queue, private_worker):
    """Start a slow run on a private worker, wait until one ticker is published, kill -9 it."""
    redis = django_rq.get_connection("default")
    first = private_worker(queue)
    alice = connect(world.token(world.alice))
    run = services.start_run(
        owner=world.alice, tickers=TICKERS, profile_id=profile.pk, step_seconds=0.4, queue=queue.name
    )
    room = f"run:{run.pk}"
    alice.call("subscribe", {"room": room})
    alice.wait_for("automation_progress", published_event(room), timeout=60)
    run.refresh_from_db()
    assert run.status == "running" and run.worker_pid
    from rq.job import Job
    from rq.serializers import JSONSerializer

    worker_name = Job.fetch(run.job_id, connection=redis, serializer=JSONSerializer).worker_name
    # A lost machine: the worker's process group, then the work horse (RQ gives it a group of its own).
    first.kill9()
    try:
        os.kill(run.worker_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    published_before = run.ticker_states.filter(status="published").count()
    assert 0 < published_before < len(TICKERS)
    # The ticker the worker was on when it died (none if it died between two): the one ticker a
    # resumed job attempts a second time. Everything before it was attempted once.
    interrupted = list(run.ticker_states.filter(status="processing").values_list("ticker", flat=True))
    assert len(interrupted) <= 1, interrupted
    assert set(run.ticker_states.filter(status="published").values_list("attempts", flat=True)) == {1}
    wait_until(lambda: not redis.exists(ALIVE_KEY.format(worker_name)), timeout=30, what="liveness expiry")
    return alice, run, room, {ticker: 2 for ticker in interrupted}


def test_it_resumes_from_the_checkpoint_after_kill_9(world, profile, connect, private_queue, private_worker, settings):
    settings.AUTOMATION_RUN_RETRIES = 1
    alice, run, room, retried = kill_mid_run(world, profile, connect, private_queue, private_worker)
    second = private_worker(private_queue)  # reaps the dead worker's job at startup; RQ retries it

    lost = alice.wait_for("automation_error", in_room(room), timeout=60)
    assert lost["error_type"] == "worker_lost" and lost["recoverable"] is True, second.log()
    assert "resuming from the last finished ticker" in lost["message"]
    alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=60)
    run.refresh_from_db()
    assert run.status == "completed", second.log()
    assert_published_exactly_once(run, attempts=retried)
    published = [d["data"]["ticker"] for d in alice.received("automation_progress") if published_event(room)(d)]
    assert published == TICKERS, published


def test_it_marks_the_run_failed_and_tells_the_owner_without_retries(
    world, profile, connect, private_queue, private_worker, settings
):
    settings.AUTOMATION_RUN_RETRIES = 0
    alice, run, room, retried = kill_mid_run(world, profile, connect, private_queue, private_worker)
    second = private_worker(private_queue)

    failed = alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "error", timeout=60)
    assert "stopped unexpectedly" in failed["message"], second.log()
    told = alice.wait_for("automation_error", lambda d: d["_meta"]["room"] == f"user:{world.alice.pk}", timeout=10)
    assert told["error_type"] == "run_failed" and told["recoverable"] is True
    run.refresh_from_db()
    assert run.status == "failed" and "stopped unexpectedly" in run.error
    assert run.ticker_states.filter(status="processing").count() == 0
    remaining = run.ticker_states.filter(status="pending").count()
    assert remaining == len(TICKERS) - run.ticker_states.filter(status="published").count() > 0

    # The owner retries: the rest is done, nothing published twice.
    services.retry_failed(run=run, by=world.alice)
    alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=60)
    run.refresh_from_db()
    assert run.status == "completed"
    assert_published_exactly_once(run, attempts=retried)
