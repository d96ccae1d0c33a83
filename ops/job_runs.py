"""Every job the workers run, timed and counted per function and outcome, in Redis.

`record()` hears of every execution through `jobs.signals.job_ran` (connected in OpsConfig.ready),
which the worker class sends once per execution: in the work horse when the job returned
(outcome "success") or raised, timed out or was stopped ("error"), and in the worker when its
work horse died mid-job ("error"). That covers every job on every queue, tracked or not
(`enqueue_tracked`, billing, automation, provisioning, cron). Each execution is counted: a job
that fails and is retried counts an error and then its retry's outcome.

The numbers are one Redis hash (`ops:job-runs`), summed across workers, with fields
`<function>|<outcome>|count`, `…|sum` (seconds) and `…|le=<bound>` (cumulative histogram
buckets), so /metrics exports them as Prometheus' histogram and counter as they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ops import keys

log = logging.getLogger(__name__)

BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600)
MAX_FUNC = 200


@dataclass
class Runs:
    func: str
    outcome: str
    count: int = 0
    total_seconds: float = 0.0
    buckets: dict[float, int] = field(default_factory=dict)  # bound -> runs that took at most that


def record(redis: Any, func: str | None, outcome: str, seconds: float) -> None:
    """Count one execution. Never raises: the job's outcome must not depend on its metrics."""
    prefix = f"{(func or '?')[:MAX_FUNC]}|{outcome}|"
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.hincrby(keys.JOB_RUNS, prefix + "count", 1)
        pipe.hincrbyfloat(keys.JOB_RUNS, prefix + "sum", seconds)
        for bound in BUCKETS:
            if seconds <= bound:
                pipe.hincrby(keys.JOB_RUNS, f"{prefix}le={bound}", 1)
        pipe.execute()
    except Exception as exc:  # Redis away: the job itself is done
        log.warning("job run not counted func=%s outcome=%s: %s", func, outcome, exc.__class__.__name__)


def read(redis: Any) -> list[Runs]:
    runs: dict[tuple[str, str], Runs] = {}
    for raw_field, raw_value in redis.hgetall(keys.JOB_RUNS).items():
        name = raw_field.decode() if isinstance(raw_field, bytes) else raw_field
        func, outcome, part = name.rsplit("|", 2)
        entry = runs.setdefault((func, outcome), Runs(func, outcome))
        value = float(raw_value)
        if part == "count":
            entry.count = int(value)
        elif part == "sum":
            entry.total_seconds = value
        elif part.startswith("le="):
            entry.buckets[float(part[3:])] = int(value)
    return [runs[k] for k in sorted(runs)]


def on_job_ran(sender: Any, *, connection: Any, func: str | None, outcome: str, seconds: float, **kwargs: Any) -> None:
    record(connection, func, outcome, seconds)
