"""The progress tracker a job uses (seed 002's API):

    tracker = get_progress_tracker()          # inside an RQ job: the current job
    tracker.set_progress(25, "Downloading…")
    tracker.increment_progress(25, "Transcribing…")
    tracker.mark_complete("Done", result={...})

Updates are throttled to PROGRESS_MIN_INTERVAL_SECONDS, the latest one is always delivered when
the interval ends, and terminal states are never throttled. A job that just returns (or raises)
without `mark_complete` loses nothing either: the worker flushes the job's trackers before it
reports the end (jobs.lifecycle), since progress that arrives after the end is dropped."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from django.conf import settings
from rq import get_current_job

from jobs import services
from realtime.throttle import Throttle

_trackers: dict[str, weakref.WeakSet[ProgressTracker]] = {}
_trackers_lock = threading.Lock()


def flush_trackers(job_id: str) -> None:
    """Send what every tracker of this job still holds (called as the job ends, before its end
    is reported)."""
    with _trackers_lock:
        trackers = list(_trackers.pop(str(job_id), ()))
    for tracker in trackers:
        tracker.flush()


class ProgressTracker:
    def __init__(self, job_id: str, *, min_interval: float | None = None) -> None:
        self.job_id = str(job_id)
        self.progress = 0.0
        interval = settings.PROGRESS_MIN_INTERVAL_SECONDS if min_interval is None else min_interval
        self._throttle = Throttle(self._send, interval)
        with _trackers_lock:
            if len(_trackers) > 256:  # trackers made outside a job are never flushed by id: forget the dead
                for job_id in [k for k, alive in _trackers.items() if not alive]:
                    del _trackers[job_id]
            _trackers.setdefault(self.job_id, weakref.WeakSet()).add(self)

    def _send(self, value: tuple[float, str | None]) -> None:
        services.save_progress(self.job_id, *value)

    def set_progress(self, percent: float, message: str | None = None) -> None:
        self.progress = min(100.0, max(0.0, float(percent)))
        self._throttle.submit((self.progress, message))

    def increment_progress(self, delta: float, message: str | None = None) -> None:
        self.set_progress(self.progress + float(delta), message)

    def mark_complete(self, message: str = "complete", result: Any = None) -> None:
        self._throttle.flush()
        self.progress = 100.0
        services.mark_success(self.job_id, result, message)

    def flush(self) -> None:
        self._throttle.flush()


def get_progress_tracker(job_id: str | None = None, **kwargs: Any) -> ProgressTracker:
    if job_id is None:
        job = get_current_job()
        if job is None:
            raise RuntimeError("get_progress_tracker() without a job id must run inside an RQ job")
        job_id = job.id
    return ProgressTracker(job_id, **kwargs)
