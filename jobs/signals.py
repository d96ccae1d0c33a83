"""Signals the jobs layer sends, for apps that observe jobs (ops counts and times every run).

`job_ran(sender=TrackingWorker, connection, func, outcome, seconds)`: once per execution of any
RQ job, in the work horse when the job returned ("success") or raised, timed out or was stopped
("error"), and in the worker when its work horse died mid-job ("error"). `connection` is the
job's Redis connection (the work horse's own). Receivers must not raise."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import Signal

job_ran = Signal()


def duration(job: Any) -> float:
    """Seconds between a job's start and end (0 when either is unknown)."""
    started: datetime | None = getattr(job, "started_at", None)
    ended: datetime | None = getattr(job, "ended_at", None)
    if started is None or ended is None:
        return 0.0
    return max(0.0, (ended - started).total_seconds())
