"""Jobs the ops tests enqueue (no tests in here): plain RQ jobs, not tracked by a JobRecord."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


def succeed(*, seconds: float = 0) -> str:
    time.sleep(seconds)  # the work a job takes
    return "ok"


def fail(*, message: str) -> None:
    raise RuntimeError(message)


def log_error(*, message: str) -> None:
    """A job that logs an ERROR (and succeeds): the worker's recent-errors handler records it."""
    log.error("%s", message)
