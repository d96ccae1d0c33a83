"""A checkpoint for fault tests: lets a test stop a job at a dangerous point and kill its worker.

Off unless the worker's environment sets BILLING_PAUSE_AT (e.g. "payment:before_commit") and
BILLING_PAUSE_SECONDS. When a job reaches that checkpoint it pushes {checkpoint, key, worker, pid}
to the Redis list `billing:test:checkpoints` (the test BLPOPs it: no sleeping) and then waits up
to BILLING_PAUSE_SECONDS for the test to kill it."""

from __future__ import annotations

import json
import logging
import os

log = logging.getLogger(__name__)

CHECKPOINTS_KEY = "billing:test:checkpoints"
RELEASE_KEY = "billing:test:release"


def checkpoint(name: str, *, key: str) -> None:
    wanted = os.environ.get("BILLING_PAUSE_AT")
    if not wanted or wanted != name:
        return
    seconds = float(os.environ.get("BILLING_PAUSE_SECONDS", "30"))
    from rq import get_current_job

    job = get_current_job()
    if job is None:
        return
    connection = job.connection
    report = {"checkpoint": name, "key": key, "worker": job.worker_name, "pid": os.getpid(), "job_id": job.id}
    log.warning("test checkpoint reached: %s (pausing up to %ss)", name, seconds)
    connection.rpush(CHECKPOINTS_KEY, json.dumps(report))
    connection.expire(CHECKPOINTS_KEY, 600)
    connection.blpop([RELEASE_KEY], timeout=seconds)
