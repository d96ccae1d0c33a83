"""RQ's lifecycle, reported to the job record and to clients: start (TrackingWorker), success
and failure (RQ callbacks, including RQ's own abandoned-job cleanup), and a work horse killed
mid-job (TrackingWorker). No job function has to remember any of it."""

from __future__ import annotations

import json
import logging
from typing import Any

from jobs import services
from jobs.progress import flush_trackers

log = logging.getLogger(__name__)


class WorkHorseKilledError(Exception):
    """The process running the job died (reported by TrackingWorker to the failure callback)."""


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {"repr": repr(value)[:500]}
    return value


def on_start(job) -> None:
    services.mark_running(job.id)


def on_success(job, connection, result, *args: Any, **kwargs: Any) -> None:
    flush_trackers(job)  # the job's last progress goes before its end (after it, it is dropped)
    services.mark_success(job.id, _jsonable(result))


def on_failure(job, connection, exc_type, exc_value, traceback, *args: Any, **kwargs: Any) -> None:
    name = getattr(exc_type, "__name__", str(exc_type))
    error = f"{name}: {exc_value}" if str(exc_value) else name
    if name == "AbandonedJobError":
        error = "the worker running this job died (abandoned job)"
    elif name == "WorkHorseKilledError":
        error = str(exc_value)
    report_failure(job, error)


def report_failure(job, error: str) -> None:
    flush_trackers(job)
    if job.retries_left:
        log.warning("job failed, will retry id=%s retries_left=%s: %s", job.id, job.retries_left, error[:200])
        services.mark_retrying(job.id, error)
    else:
        log.warning("job failed id=%s: %s", job.id, error[:200])
        services.mark_error(job.id, error)
