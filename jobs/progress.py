"""The progress tracker a job uses (seed 002's API):

    tracker = get_progress_tracker()          # inside an RQ job: the current job
    tracker.set_progress(25, "Downloading…")
    tracker.increment_progress(25, "Transcribing…")
    tracker.mark_complete("Done", result={...})

Updates are throttled to PROGRESS_MIN_INTERVAL_SECONDS, the latest one is always delivered when
the interval ends, and terminal states are never throttled. A job that just returns (or raises)
without `mark_complete` loses nothing either: its trackers are kept on the RQ job, and RQ's
callbacks flush them before they report the end (jobs.lifecycle), since progress that arrives
after the end is dropped."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rq import get_current_job

from jobs import services
from realtime.throttle import Throttle

TRACKERS_ATTR = "_progress_trackers"


def flush_trackers(job: Any) -> None:
    """Send what the job's trackers still hold (RQ's callbacks call this as the job ends, before
    its end is reported; they get the same Job object the job ran as)."""
    for tracker in getattr(job, TRACKERS_ATTR, ()):
        tracker.flush()


class ProgressTracker:
    def __init__(self, job_id: str, *, min_interval: float | None = None) -> None:
        self.job_id = str(job_id)
        self.progress = 0.0
        interval = settings.PROGRESS_MIN_INTERVAL_SECONDS if min_interval is None else min_interval
        self._throttle = Throttle(self._send, interval)

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
    """A tracker for `job_id`, by default the current RQ job. Made inside that job, it is kept
    on the job, so the job's end flushes it (flush_trackers)."""
    job = get_current_job()
    if job_id is None:
        if job is None:
            raise RuntimeError("get_progress_tracker() without a job id must run inside an RQ job")
        job_id = job.id
    tracker = ProgressTracker(job_id, **kwargs)
    if job is not None and str(job.id) == tracker.job_id:
        job.__dict__.setdefault(TRACKERS_ATTR, []).append(tracker)
    return tracker
