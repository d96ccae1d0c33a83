"""Every state change of a run, in one place. Views, Socket.IO handlers, admin actions and the job
call these; each change is a compare-and-set on the run row (`filter(state...).update(...)`: if
no row was updated, the run was not in a state that allows it), and its events go out after commit.

Control requests (pause, cancel) are stored on the row; the job reads them at every ticker
boundary, so it stops between tickers, never in the middle of publishing one."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry

from automation import events
from automation.models import AutomationRun, PublishingProfile, TickerState
from jobs.queues import queue_named
from project.ids import parse_id
from realtime import eventlog
from realtime.emit import EmitError
from realtime.redis import sync_client

log = logging.getLogger(__name__)
S = AutomationRun.Status
T = TickerState.Status

TICKER_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
RUN_JOB = "automation.jobs.run_automation"
RUN_TIMEOUT = 3600


class AutomationError(Exception):
    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidInput(AutomationError):
    status = 400


class NotFound(AutomationError):
    status = 404


class Conflict(AutomationError):
    status = 409


class Superseded(Exception):
    """The job no longer owns its run (a newer job took it, or the run was finished or failed
    behind its back): it stops at once, quietly, changing and sending nothing more."""


class QueueUnavailable(AutomationError):
    """Redis could not take the job: the caller answers 503 and the run is not left queued."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__("queue_unavailable", message)


QUEUE_DOWN_MESSAGE = "The job queue was unavailable, so the run was not started. Retry it when the queue is back."


def max_tickers() -> int:
    return settings.AUTOMATION_MAX_TICKERS


# --- input ----------------------------------------------------------------------------------------


def parse_tickers(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        raise InvalidInput("invalid_tickers", "tickers must be a list of ticker symbols")
    if not raw:
        raise InvalidInput("no_tickers", "No tickers provided")
    if len(raw) > max_tickers():
        raise InvalidInput("too_many_tickers", f"at most {max_tickers()} tickers per run, got {len(raw)}")
    tickers: list[str] = []
    for item in raw:
        # ASCII first: str.upper() turns "ß" into "SS", "ﬀ" into "FF" and "ı" into "I"
        symbol = item.strip().upper() if isinstance(item, str) and item.isascii() else None
        if not symbol or not TICKER_RE.fullmatch(symbol):
            shown = str(item)[:20] if isinstance(item, str | int | float) else type(item).__name__
            raise InvalidInput("invalid_ticker", f"malformed ticker {shown!r}: use 1-10 letters, digits, '.' or '-'")
        if symbol in tickers:
            raise InvalidInput("duplicate_ticker", f"ticker {symbol} is listed twice")
        tickers.append(symbol)
    return tickers


def parse_profile(owner, raw: Any) -> PublishingProfile:
    pk = parse_id(raw)
    if pk is None:
        raise InvalidInput("invalid_profile", "profile_id must be the numeric id of one of your profiles")
    profile = PublishingProfile.objects.filter(pk=pk, owner=owner).first()
    if profile is None:
        raise InvalidInput("unknown_profile", f"unknown profile {raw}")
    return profile


def parse_step_seconds(raw: Any) -> float:
    if raw is None:
        return 0.0
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 5:
        raise InvalidInput("invalid_step_seconds", "step_seconds must be a number from 0 to 5")
    return float(raw)


def run_for(user, run_id: Any) -> AutomationRun:
    """The run, if `user` owns it or is staff; otherwise NotFound (no hint that it exists)."""
    pk = parse_id(run_id)
    if pk is None:
        raise NotFound("not_found", "automation_id must be a run's numeric id")
    runs = AutomationRun.objects.select_related("owner", "profile")
    if not user.is_staff:
        runs = runs.filter(owner=user)
    run = runs.filter(pk=pk).first()
    if run is None:
        raise NotFound("not_found", f"no automation run {run_id}")
    return run


# --- starting and controlling a run --------------------------------------------------------------


def _queue(name: str) -> Queue:
    return queue_named(name)


def _enqueue_on_commit(run: AutomationRun, announce: Callable[[], None] | None = None) -> None:
    """Give the run a new job id (the job that owns the run from now on) and enqueue that job
    after commit. A job whose id is no longer the run's (an older job still in a queue) exits.

    `announce` (the "queued" event) is sent after commit, before the job is enqueued, so it
    reaches clients before anything the job sends; a failed announcement is only logged (the
    job reports its own state). If Redis can't take the job, the run is marked failed (it would
    otherwise stay "queued" with no job) and QueueUnavailable is raised to the caller."""
    job_id = f"automation-{run.pk}-{uuid.uuid4().hex[:8]}"
    AutomationRun.objects.filter(pk=run.pk).update(job_id=job_id)
    run.job_id = job_id
    retries = settings.AUTOMATION_RUN_RETRIES

    def enqueue() -> None:
        if announce is not None:
            try:
                announce()
            except EmitError as exc:
                log.warning("automation run %s: queued event not sent: %s", run.pk, exc)
        try:
            _queue(run.queue).enqueue(
                RUN_JOB,
                kwargs={"run_id": run.pk},
                job_id=job_id,
                job_timeout=RUN_TIMEOUT,
                retry=Retry(max=retries) if retries else None,
                on_failure=Callback("automation.jobs.on_run_failure"),
                description=f"automation run {run.pk}",
            )
        except RedisError as exc:
            log.error("automation run not enqueued run=%s job=%s: %s", run.pk, job_id, exc.__class__.__name__)
            _not_queued(run.pk, job_id)
            raise QueueUnavailable("the job queue is unavailable; the run was not started, try again") from exc
        log.info("automation run enqueued run=%s job=%s queue=%s", run.pk, job_id, run.queue)

    transaction.on_commit(enqueue)


def _not_queued(run_id: int, job_id: str) -> None:
    """The run's job never reached the queue: fail the run (its tickers stay pending, so a retry
    runs them all) rather than leave it "queued" forever. No event: Redis is down."""
    AutomationRun.objects.filter(pk=run_id, job_id=job_id, status=S.QUEUED).update(
        status=S.FAILED,
        stage="error",
        requested="",
        message=QUEUE_DOWN_MESSAGE,
        error=QUEUE_DOWN_MESSAGE,
        finished_at=timezone.now(),
    )


def start_run(
    *, owner, tickers: Any, profile_id: Any, step_seconds: Any = None, queue: str = "default"
) -> AutomationRun:
    symbols = parse_tickers(tickers)
    profile = parse_profile(owner, profile_id)
    pace = parse_step_seconds(step_seconds)
    with transaction.atomic():
        run = AutomationRun.objects.create(
            owner=owner,
            profile=profile,
            tickers=symbols,
            step_seconds=pace,
            queue=queue,
            message=f"Queued: {len(symbols)} tickers",
        )
        TickerState.objects.bulk_create(TickerState(run=run, ticker=t, position=i) for i, t in enumerate(symbols))
        _enqueue_on_commit(
            run,
            announce=lambda: events.send_progress(
                run, "initializing", f"Automation queued for {len(symbols)} tickers", 0, total_tickers=len(symbols)
            ),
        )
    log.info("automation run started run=%s owner=%s tickers=%s", run.pk, owner.pk, len(symbols))
    return run


def remaining_count(run: AutomationRun) -> int:
    return TickerState.objects.filter(run=run, status__in=(T.PENDING, T.PROCESSING)).count()


def request_pause(*, run: AutomationRun, by) -> AutomationRun:
    with transaction.atomic():
        if not AutomationRun.objects.filter(pk=run.pk, status__in=AutomationRun.ACTIVE, requested="").update(
            requested=AutomationRun.Request.PAUSE, message="Pause requested: stopping after the current ticker"
        ):
            raise Conflict("invalid_state", f"run {run.pk} is {_state(run)}: only a queued or running run can pause")
    log.info("automation pause requested run=%s by=%s", run.pk, by.pk)
    return _fresh(run)


def resume(*, run: AutomationRun, by) -> AutomationRun:
    with transaction.atomic():
        if AutomationRun.objects.filter(
            pk=run.pk, status__in=AutomationRun.ACTIVE, requested=AutomationRun.Request.PAUSE
        ).update(requested="", message="Pause withdrawn: running"):
            run = _fresh(run)  # the job had not stopped yet: it simply carries on
            remaining = remaining_count(run)
            events.send_resumed(run, f"Automation resumed: {remaining} tickers remaining", remaining)
        elif AutomationRun.objects.filter(pk=run.pk, status=S.PAUSED).update(
            status=S.QUEUED, requested="", stage="initializing", message="Resumed: queued"
        ):
            run = _fresh(run)
            remaining = remaining_count(run)
            _enqueue_on_commit(
                run,
                announce=lambda: events.send_resumed(
                    run, f"Automation resumed: {remaining} tickers remaining", remaining
                ),
            )
        else:
            raise Conflict("invalid_state", f"run {run.pk} is {_state(run)}: only a paused run can resume")
    log.info("automation resumed run=%s by=%s remaining=%s", run.pk, by.pk, remaining)
    return run


def cancel(*, run: AutomationRun, by) -> AutomationRun:
    with transaction.atomic():
        if AutomationRun.objects.filter(pk=run.pk, status=S.PAUSED).update(requested=AutomationRun.Request.CANCEL):
            run = _fresh(run)
            _finish_cancelled(run)  # no job is running: cancel now
        elif (
            AutomationRun.objects.filter(pk=run.pk, status__in=AutomationRun.ACTIVE)
            .exclude(requested=AutomationRun.Request.CANCEL)
            .update(
                requested=AutomationRun.Request.CANCEL, message="Cancel requested: stopping after the current ticker"
            )
        ):
            run = _fresh(run)
        else:
            raise Conflict("invalid_state", f"run {run.pk} is {_state(run)}: it cannot be cancelled")
    log.info("automation cancel requested run=%s by=%s", run.pk, by.pk)
    return run


def retry_failed(*, run: AutomationRun, by) -> AutomationRun:
    """Run the failed (and never processed) tickers of a finished run again."""
    with transaction.atomic():
        todo = TickerState.objects.filter(run=run, status__in=(T.FAILED, T.PENDING, T.PROCESSING))
        if not todo.exists():
            raise Conflict("nothing_to_retry", f"run {run.pk} has no failed tickers")
        if not AutomationRun.objects.filter(pk=run.pk, status__in=(S.COMPLETED, S.FAILED)).update(
            status=S.QUEUED, requested="", stage="initializing", error="", finished_at=None, message="Retry: queued"
        ):
            raise Conflict("invalid_state", f"run {run.pk} is {_state(run)}: only a finished run can retry")
        count = todo.update(status=T.PENDING, error="", recoverable=True)
        run = _fresh(run)
        _enqueue_on_commit(run, announce=lambda: events.send_resumed(run, f"Retrying {count} tickers", count))
    log.info("automation retry run=%s by=%s tickers=%s", run.pk, by.pk, count)
    return run


def resend_final_state(*, run: AutomationRun) -> bool:
    """Send a finished run's final state to its owner again (ops, from the admin)."""
    run = _fresh(run)
    if run.status not in AutomationRun.FINISHED:
        return False
    stage = {S.COMPLETED: "complete", S.CANCELLED: "cancelled", S.FAILED: "error"}[run.status]
    events.send_progress(run, stage, run.message or run.status, run.percent, **outcome(run))
    return True


# --- the job's side ------------------------------------------------------------------------------


def claim(run_id: int, job_id: str) -> AutomationRun | None:
    """The job takes the run. Only the run's current job may (a retry of it too: same id)."""
    if not AutomationRun.objects.filter(pk=run_id, job_id=job_id, status__in=AutomationRun.ACTIVE).update(
        status=S.RUNNING, started_at=Coalesce("started_at", timezone.now()), worker_pid=os.getpid()
    ):
        return None
    return AutomationRun.objects.select_related("profile").get(pk=run_id)


def _owned(run: AutomationRun):
    """The run row, if the job that loaded `run` still owns it (compare-and-set on job_id)."""
    return AutomationRun.objects.filter(pk=run.pk, job_id=run.job_id, status=S.RUNNING)


def pending_request(run: AutomationRun) -> str:
    """At a ticker boundary: the pause or cancel asked for ("" for none). Raises Superseded if
    this job no longer owns the run (the reaper retried a stalled job: the newer job has it)."""
    found = _owned(run).values_list("requested", flat=True).first()
    if found is None:
        raise Superseded(f"run {run.pk} is no longer owned by job {run.job_id}")
    return found


def next_ticker(run: AutomationRun) -> TickerState | None:
    """The next ticker to do: one interrupted mid-way (a crash) first, then the pending ones."""
    return TickerState.objects.filter(run=run, status__in=(T.PROCESSING, T.PENDING)).order_by("position").first()


def record_progress(run: AutomationRun, stage: str, percent: int, message: str) -> None:
    if not _owned(run).update(stage=stage, percent=percent, message=message[:500]):
        raise Superseded(f"run {run.pk} is no longer owned by job {run.job_id}")


def ticker_statuses(run: AutomationRun) -> dict[str, str]:
    """{ticker: status}: sent when a job (re)starts, so a client that missed an event (a job
    killed between its checkpoint and its event) still shows every ticker right."""
    return dict(TickerState.objects.filter(run=run).values_list("ticker", "status"))


def percent_done(run: AutomationRun) -> int:
    total = len(run.tickers) or 1
    done = TickerState.objects.filter(run=run, status__in=(T.PUBLISHED, T.FAILED, T.CANCELLED)).count()
    return int(100 * done / total)


def _update_ticker(run: AutomationRun, state: TickerState, **changes: Any) -> None:
    """Checkpoint a ticker, only while the job still owns the run (else Superseded)."""
    if not TickerState.objects.filter(pk=state.pk, run_id=run.pk, run__job_id=run.job_id, run__status=S.RUNNING).update(
        **changes
    ):
        raise Superseded(f"run {run.pk} is no longer owned by job {run.job_id}")


def ticker_started(run: AutomationRun, state: TickerState) -> None:
    _update_ticker(run, state, status=T.PROCESSING, attempts=F("attempts") + 1)


def ticker_published(run: AutomationRun, state: TickerState, *, report: dict, post_id: str) -> None:
    _update_ticker(
        run,
        state,
        status=T.PUBLISHED,
        report=report,
        published_id=post_id,
        published_at=Coalesce("published_at", timezone.now()),
        error="",
    )


def ticker_failed(run: AutomationRun, state: TickerState, *, error: str, recoverable: bool) -> None:
    _update_ticker(run, state, status=T.FAILED, error=error[:500], recoverable=recoverable)


def stop_paused(run: AutomationRun) -> bool:
    remaining = remaining_count(run)
    message = f"Automation paused: {remaining} tickers remaining"
    with transaction.atomic():
        if not AutomationRun.objects.filter(
            pk=run.pk, job_id=run.job_id, status=S.RUNNING, requested=AutomationRun.Request.PAUSE
        ).update(status=S.PAUSED, requested="", stage="paused", message=message):
            return False
        run.refresh_from_db()
        events.send_paused(run, message)
    log.info("automation paused run=%s remaining=%s", run.pk, remaining)
    return True


def stop_cancelled(run: AutomationRun) -> bool:
    with transaction.atomic():
        if not AutomationRun.objects.filter(
            pk=run.pk, job_id=run.job_id, status=S.RUNNING, requested=AutomationRun.Request.CANCEL
        ).exists():
            return False
        _finish_cancelled(_fresh(run), send_progress=False)  # the job's reporter sends it, once
    return True


def _finish_cancelled(run: AutomationRun, *, send_progress: bool = True) -> None:
    skipped = TickerState.objects.filter(run=run, status__in=(T.PENDING, T.PROCESSING)).update(status=T.CANCELLED)
    message = f"Automation cancelled: {skipped} tickers not processed"
    AutomationRun.objects.filter(pk=run.pk).update(
        status=S.CANCELLED, requested="", stage="cancelled", message=message, finished_at=timezone.now()
    )
    run.refresh_from_db()
    events.send_cancelled(run, message)
    if send_progress:
        events.send_progress(run, "cancelled", message, run.percent, **outcome(run))
    log.info("automation cancelled run=%s skipped=%s", run.pk, skipped)


def outcome(run: AutomationRun) -> dict[str, int]:
    counts = {s: 0 for s in T.values}
    for status in TickerState.objects.filter(run=run).values_list("status", flat=True):
        counts[status] += 1
    return {
        "total_tickers": len(run.tickers),
        "published": counts[T.PUBLISHED],
        "failed": counts[T.FAILED],
        "cancelled": counts[T.CANCELLED],
    }


def finish(run: AutomationRun) -> AutomationRun | None:
    result = outcome(run)
    message = f"Automation complete: {result['published']} published, {result['failed']} failed"
    if not AutomationRun.objects.filter(pk=run.pk, job_id=run.job_id, status=S.RUNNING).update(
        status=S.COMPLETED, stage="complete", percent=100, message=message, finished_at=timezone.now()
    ):
        return None
    log.info("automation complete run=%s %s", run.pk, result)
    return _fresh(run)


def fail(*, run_id: int, job_id: str, error: str) -> AutomationRun | None:
    """Mark the run failed (its job died or raised with no retry left) and tell the owner."""
    with transaction.atomic():
        if not AutomationRun.objects.filter(pk=run_id, job_id=job_id, status__in=AutomationRun.ACTIVE).update(
            status=S.FAILED, stage="error", requested="", message=error[:500], error=error, finished_at=timezone.now()
        ):
            return None
        run = AutomationRun.objects.get(pk=run_id)
        TickerState.objects.filter(run=run, status=T.PROCESSING).update(status=T.PENDING)
        remaining = remaining_count(run)
        events.send_progress(run, "error", error, run.percent, **outcome(run), remaining=remaining)
        events.send_error(run, "run_failed", f"{error} {remaining} tickers can be retried.", recoverable=remaining > 0)
    log.warning("automation run failed run=%s: %s", run_id, error[:200])
    return run


def note_recovering(*, run_id: int, job_id: str, error: str) -> None:
    """The run's job died and RQ will run it again: tell the owner it resumes from its checkpoint."""
    run = AutomationRun.objects.filter(pk=run_id, job_id=job_id, status__in=AutomationRun.ACTIVE).first()
    if run is None:
        return
    message = f"{error}; resuming from the last finished ticker"
    AutomationRun.objects.filter(pk=run.pk, job_id=job_id).update(message=message[:500])
    events.send_error(run, "worker_lost", message, recoverable=True)
    log.warning("automation run recovering run=%s: %s", run_id, error[:200])


# --- reads ----------------------------------------------------------------------------------------


def _fresh(run: AutomationRun) -> AutomationRun:
    return AutomationRun.objects.select_related("owner", "profile").get(pk=run.pk)


def _state(run: AutomationRun) -> str:
    return AutomationRun.objects.filter(pk=run.pk).values_list("status", flat=True).first() or "gone"


HISTORY_EVENTS = 300  # as many as the run page's log keeps


def run_history(run: AutomationRun) -> dict[str, Any]:
    """The run room's logged events (the replay log: the last REPLAY_LOG_MAXLEN, at most
    REPLAY_LOG_MAX_AGE_SECONDS old) and the room's position, for the run page's log after a
    reload. Without Redis the page still renders, with its state and no history."""
    try:
        messages, position = eventlog.read_recent(sync_client(), "/", events.run_room(run.pk), limit=HISTORY_EVENTS)
    except RedisError as exc:
        log.warning("run history not read run=%s: %s", run.pk, exc.__class__.__name__)
        return {"events": [], "position": None}
    return {
        "events": [[m["event"], m["data"][0]] for m in messages],
        "position": {"seq": position.seq, "epoch": position.epoch} if position.epoch else None,
    }


def run_state(run: AutomationRun) -> dict[str, Any]:
    """The run as the page and the snapshot see it."""
    return {
        "automation_id": run.pk,
        "status": run.status,
        "requested": run.requested,
        "stage": run.stage,
        "percent": run.percent,
        "message": run.message,
        "error": run.error,
        "profile": run.profile.name,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "tickers": [
            {
                "ticker": s.ticker,
                "status": s.status,
                "published_id": s.published_id,
                "published_at": s.published_at.isoformat() if s.published_at else None,
                "error": s.error,
                "recoverable": s.recoverable,
                "attempts": s.attempts,
            }
            for s in run.ticker_states.order_by("position")
        ],
        **outcome(run),
    }


def runs_of(user) -> Any:
    return AutomationRun.objects.filter(Q(owner=user)).select_related("profile").order_by("-created_at")
