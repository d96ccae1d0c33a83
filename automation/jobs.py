"""The automation run job: ticker by ticker, generate a report and publish it.

Safe to run twice: each ticker's outcome is checkpointed in its TickerState row, a retried job
starts from the first ticker not yet finished, and publishing is keyed by run + ticker (the
publication store returns the existing post), so no ticker is ever published twice. Pause and
cancel requests are read from the run row between tickers."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from rq import get_current_job

from automation import services
from automation.events import ProgressReporter, send_error
from automation.models import AutomationRun, TickerState
from automation.prices import NoPriceData
from automation.publishers import PublishError, publisher_for
from automation.reports import generate_report

log = logging.getLogger(__name__)


def step_seconds(run: AutomationRun) -> float:
    """Per-run pace, or the worker's AUTOMATION_STEP_SECONDS (demos and tests), whichever is longer."""
    return max(run.step_seconds, settings.AUTOMATION_STEP_SECONDS)


def publication_key(run: AutomationRun, ticker: str) -> str:
    return f"run:{run.pk}:ticker:{ticker}"


def run_automation(*, run_id: int) -> dict[str, Any]:
    job = get_current_job()
    job_id = job.id if job is not None else ""
    run = services.claim(run_id, job_id)
    if run is None:
        log.info(
            "automation job has nothing to do run=%s job=%s (not the run's job, or run not active)", run_id, job_id
        )
        return {"run_id": run_id, "skipped": True}
    reporter = ProgressReporter(run)
    total = len(run.tickers)
    pace = step_seconds(run)
    try:
        return _work(reporter, run, total, pace)
    except services.Superseded:
        # A newer job owns the run (the reaper retried this one while it still ran): stop at
        # this boundary and send nothing more, not even a pending throttled progress event.
        reporter.discard()
        log.warning("automation job superseded run=%s job=%s: stopping", run_id, job_id)
        return {"run_id": run_id, "superseded": True}
    finally:
        reporter.flush()
        close_old_connections()


def _work(reporter: ProgressReporter, run: AutomationRun, total: int, pace: float) -> dict[str, Any]:
    run_id = run.pk
    first = True
    while True:
        request = services.pending_request(run)
        if request == AutomationRun.Request.PAUSE and services.stop_paused(run):
            return _stopped(reporter, run, "paused")
        if request == AutomationRun.Request.CANCEL and services.stop_cancelled(run):
            return _stopped(reporter, run, "cancelled")
        state = services.next_ticker(run)
        if state is None:
            break
        if first:
            done = total - services.remaining_count(run)
            _report(
                reporter,
                run,
                "initializing",
                f"Starting automation for {total - done} of {total} tickers",
                services.percent_done(run),
                force=True,
                total_tickers=total,
                states=services.ticker_statuses(run),
            )
            first = False
        _process(reporter, run, state, pace, total)
    finished = services.finish(run)
    if finished is not None:
        result = services.outcome(finished)
        reporter.report("complete", finished.message, 100, **result)
        return {"run_id": run_id, **result}
    reporter.discard()
    return {"run_id": run_id, "superseded": True}


def _report(
    reporter: ProgressReporter,
    run: AutomationRun,
    stage: str,
    message: str,
    percent: int,
    *,
    force: bool = False,
    **data: Any,
) -> None:
    services.record_progress(run, stage, percent, message)
    reporter.report(stage, message, percent, force=force, **data)


def _stopped(reporter: ProgressReporter, run: AutomationRun, stage: str) -> dict[str, Any]:
    """The one terminal progress event of a paused or cancelled run: through the reporter, so
    it replaces anything still pending in the throttle and nothing follows it."""
    run.refresh_from_db()
    reporter.report(stage, run.message, run.percent, **services.outcome(run))
    return {"run_id": run.pk, "stopped": stage}


def _process(reporter: ProgressReporter, run: AutomationRun, state: TickerState, pace: float, total: int) -> None:
    ticker, index = state.ticker, state.position + 1
    base = services.percent_done(run)
    share = 100 / max(total, 1)
    services.ticker_started(run, state)
    _report(
        reporter, run, "processing", f"Analyzing {ticker}...", base, ticker=ticker, index=index, status="processing"
    )
    time.sleep(pace)  # the demo's pace: the time a real data download would take
    try:
        report = generate_report(ticker)
        _report(
            reporter,
            run,
            "publishing",
            f"Publishing {ticker}...",
            int(base + share / 2),
            ticker=ticker,
            index=index,
            status="processing",
        )
        time.sleep(pace)
        published = publisher_for(run.profile).publish(
            key=publication_key(run, ticker), profile=run.profile, run_id=run.pk, report=report
        )
    except (NoPriceData, PublishError) as exc:
        recoverable = getattr(exc, "recoverable", False)
        services.ticker_failed(run, state, error=str(exc), recoverable=recoverable)
        percent = services.percent_done(run)
        _report(
            reporter,
            run,
            "processing",
            f"✗ Failed to publish {ticker}: {exc}",
            percent,
            force=True,
            ticker=ticker,
            index=index,
            status="failed",
            error=str(exc),
            success=False,
        )
        send_error(
            run,
            "no_price_data" if isinstance(exc, NoPriceData) else "publish_failed",
            str(exc),
            recoverable=recoverable,
            ticker=ticker,
        )
        log.info("automation ticker failed run=%s ticker=%s recoverable=%s", run.pk, ticker, recoverable)
        return
    services.ticker_published(run, state, report=report, post_id=published.post_id)
    _report(
        reporter,
        run,
        "processing",
        f"✓ {ticker} published",
        services.percent_done(run),
        force=True,
        ticker=ticker,
        index=index,
        status="published",
        post_id=published.post_id,
        success=True,
    )


def on_run_failure(job, connection, exc_type, exc_value, traceback, *args: Any, **kwargs: Any) -> None:
    """RQ failure callback: the job raised, or its worker died (AbandonedJobError from the reaper).
    With a retry left the run carries on from its checkpoint; otherwise it is marked failed."""
    close_old_connections()
    run_id = (job.kwargs or {}).get("run_id")
    if run_id is None:
        return
    name = getattr(exc_type, "__name__", str(exc_type))
    if name in ("AbandonedJobError", "WorkHorseKilledError"):
        error = "The worker running this automation stopped unexpectedly"
    else:
        error = f"The automation job failed ({name})"
    if job.retries_left:
        services.note_recovering(run_id=run_id, job_id=job.id, error=error)
    else:
        services.fail(run_id=run_id, job_id=job.id, error=f"{error}.")
