"""Writes for tracked jobs. Status changes are compare-and-set on the row, so a transition
happens once however many processes report it (worker, callback, reaper), and each transition
is announced after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Callback, Retry

from jobs.events import emit_progress, emit_status
from jobs.models import JobRecord
from realtime import outbox

log = logging.getLogger(__name__)
S = JobRecord.Status
# Seconds before each retry of a failed job (RQ's scheduler enqueues it then).
RETRY_INTERVALS = [1, 5, 15]


def enqueue_tracked(
    func: Callable | str,
    *,
    kind: str,
    kwargs: dict[str, Any] | None = None,
    project=None,
    user=None,
    timeout: int | None = None,
    retries: int | None = None,
    queue: str = "default",
) -> JobRecord:
    """Create the job's record and enqueue it on commit (JSON-serialised kwargs, explicit timeout
    and retry policy). Its lifecycle is then reported by the worker and RQ's callbacks.

    `func` must be safe to run twice (idempotent): a job is run again when it fails with retries
    left, when its worker dies mid-job, and when Redis lost its queue state (restarted empty);
    the record keeps the function and its kwargs for that."""
    with transaction.atomic():
        record = JobRecord.objects.create(
            kind=kind,
            project=project,
            user=user,
            func=func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}",
            kwargs=kwargs or {},
            queue=queue,
            timeout=timeout,
            max_retries=settings.RQ_MAX_RETRIES if retries is None else retries,
        )
        # Both run on commit, in the order registered: `queued` must be published before the
        # job is pushed onto its queue, or a fast worker's `running` can overtake it.
        emit_status(record)
        transaction.on_commit(lambda: _enqueue_committed(record))
    log.info("job enqueued id=%s kind=%s", record.pk, kind)
    return record


def _enqueue_committed(record: JobRecord) -> None:
    """After commit: push the job; if Redis can't take it, the record is committed and the
    lost-job sweep enqueues it (jobs/reaper.py): the caller (a request) is not failed for it."""
    try:  # waiting for a hung Redis at most REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS
        url = settings.RQ_QUEUES.get(record.queue, {}).get("URL")
        _enqueue(record, retries=record.max_retries, connection=outbox.client(url))
    except RedisError as exc:
        log.warning("job committed, not enqueued id=%s (%s): the lost-job sweep enqueues it", record.pk, exc)


def _enqueue(record: JobRecord, *, retries: int, connection: Any = None) -> None:
    """Push the record's job onto its queue (on commit), with `retries` retries after this run."""
    django_rq.get_queue(record.queue, connection=connection).enqueue(
        record.func,
        kwargs=record.kwargs or {},
        job_id=str(record.pk),
        job_timeout=record.timeout or settings.RQ_DEFAULT_TIMEOUT,
        retry=Retry(max=retries, interval=RETRY_INTERVALS[: max(retries, 1)]) if retries else None,
        on_success=Callback("jobs.lifecycle.on_success"),
        on_failure=Callback("jobs.lifecycle.on_failure"),
        description=f"{record.kind} {record.pk}",
    )


def requeue_lost(record: JobRecord, why: str) -> JobRecord | None:
    """Enqueue again a job whose RQ job is gone (Redis restarted without its data) and that has a
    run left: the record goes back to `queued` (announced), then the job is pushed with the
    retries it has left. Compare-and-set on the row as read, so two sweepers requeue it once."""
    runs_left = record.runs_left
    if not record.func or runs_left < 1:
        return None
    with transaction.atomic():
        updated = JobRecord.objects.filter(
            pk=record.pk, status__in=(S.QUEUED, S.RUNNING), updated_at=record.updated_at
        ).update(status=S.QUEUED, message="requeued", error=why[:2000], updated_at=timezone.now())
        if not updated:
            return None
        fresh = JobRecord.objects.get(pk=record.pk)
        emit_status(fresh)
        _enqueue(fresh, retries=runs_left - 1)
    log.warning("job requeued id=%s runs_left=%s: %s", record.pk, runs_left, why)
    return fresh


def _transition(job_id: str, *, allowed_from: tuple[str, ...], **changes: Any) -> JobRecord | None:
    with transaction.atomic():
        updated = JobRecord.objects.filter(pk=job_id, status__in=allowed_from).update(
            **changes, updated_at=timezone.now()
        )
        if not updated:
            return None
        record = JobRecord.objects.get(pk=job_id)
        emit_status(record)
    return record


def mark_running(job_id: str) -> JobRecord | None:
    from django.db.models import F

    return _transition(
        job_id,
        allowed_from=(S.QUEUED, S.RUNNING),
        status=S.RUNNING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
    )


def mark_success(job_id: str, result: Any = None, message: str = "") -> JobRecord | None:
    changes: dict[str, Any] = {"status": S.SUCCESS, "progress": 100, "finished_at": timezone.now(), "error": ""}
    if result is not None:
        changes["result"] = result
    if message:
        changes["message"] = message[:500]
    return _transition(job_id, allowed_from=(S.QUEUED, S.RUNNING), **changes)


def mark_error(job_id: str, error: str) -> JobRecord | None:
    return _transition(
        job_id, allowed_from=(S.QUEUED, S.RUNNING), status=S.ERROR, error=error[:2000], finished_at=timezone.now()
    )


def mark_retrying(job_id: str, error: str) -> JobRecord | None:
    return _transition(job_id, allowed_from=(S.RUNNING,), status=S.QUEUED, error=error[:2000], message="retrying")


def save_progress(job_id: str, progress: float, message: str | None) -> None:
    """Progress is not a transition: write it (unless the job already ended) and announce it
    (in the same transaction: the announcement goes through the event outbox, so a Redis outage
    defers it instead of failing the job after its progress was written)."""
    changes: dict[str, Any] = {"progress": progress, "updated_at": timezone.now()}
    if message is not None:
        changes["message"] = message[:500]
    with transaction.atomic():
        if JobRecord.objects.filter(pk=job_id).exclude(status__in=JobRecord.TERMINAL).update(**changes):
            emit_progress(JobRecord.objects.get(pk=job_id))
