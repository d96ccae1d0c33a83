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
from rq import Callback, Retry

from jobs.events import emit_progress, emit_status
from jobs.models import JobRecord
from project.logcontext import job_meta

log = logging.getLogger(__name__)
S = JobRecord.Status


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
    and retry policy). Its lifecycle is then reported by the worker and RQ's callbacks."""
    with transaction.atomic():
        record = JobRecord.objects.create(kind=kind, project=project, user=user)
        retries = settings.RQ_MAX_RETRIES if retries is None else retries
        # Both run on commit, in the order registered: `queued` must be published before the
        # job is pushed onto its queue, or a fast worker's `running` can overtake it.
        emit_status(record)
        django_rq.get_queue(queue).enqueue(
            func,
            kwargs=kwargs or {},
            job_id=str(record.pk),
            job_timeout=timeout or settings.RQ_DEFAULT_TIMEOUT,
            retry=Retry(max=retries, interval=[1, 5, 15][: max(retries, 1)]) if retries else None,
            on_success=Callback("jobs.lifecycle.on_success"),
            on_failure=Callback("jobs.lifecycle.on_failure"),
            description=f"{kind} {record.pk}",
            meta=job_meta(),
        )
    log.info("job enqueued id=%s kind=%s", record.pk, kind)
    return record


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
    """Progress is not a transition: write it (unless the job already ended) and announce it."""
    changes: dict[str, Any] = {"progress": progress, "updated_at": timezone.now()}
    if message is not None:
        changes["message"] = message[:500]
    if JobRecord.objects.filter(pk=job_id).exclude(status__in=JobRecord.TERMINAL).update(**changes):
        emit_progress(JobRecord.objects.get(pk=job_id))
