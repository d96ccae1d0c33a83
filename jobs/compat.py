"""RQ internals the jobs app relies on, used here and nowhere else (the upgrade-safety inventory,
realtime/compat/internals.py, lists them as `ITEMS` with their checks; docs/internals.md)."""

from __future__ import annotations

from rq.scheduler import RQScheduler

from realtime.compat.internals import Item, attribute, method, source_has


def scheduler_running(scheduler: RQScheduler) -> bool:
    """Whether the worker's RQ scheduler process is alive (RQ keeps it in `_process`)."""
    process = scheduler._process
    return process is not None and process.is_alive()


ITEMS = [
    Item(
        library="rq",
        name="rq.scheduler.RQScheduler._process",
        use="reads",
        where=("jobs/compat.py",),
        why="TrackingWorker takes over RQ's scheduler as soon as its process died (RQ itself retries only "
        "every maintenance interval); the scheduler's process is only kept in this attribute.",
        breaks="AttributeError in the worker's maintenance: the worker logs it and the scheduler is taken "
        "over only by RQ's own (slower) retry; test_fault_worker_kill's scheduler recovery fails.",
        check=lambda: (
            attribute("rq.scheduler.RQScheduler", "_process"),
            source_has("rq.scheduler.RQScheduler.start", "self._process ="),
        ),
    ),
    Item(
        library="rq",
        name="rq.cron.CronScheduler.start",
        use="replaces",
        where=("jobs/management/commands/runcron.py",),
        why="ResilientCronScheduler.start() is rq's loop (birth, tick, sleep, death) with each Redis call "
        "retried through an outage; it calls the pieces rq's start() is made of.",
        breaks="a new step in rq's loop is skipped by ours; a renamed piece fails at start (AttributeError).",
        check=lambda: [
            method(f"rq.cron.CronScheduler.{name}", ["self"], coroutine=False)
            for name in ("register_birth", "register_death", "enqueue_jobs", "calculate_sleep_interval", "heartbeat")
        ],
    ),
]
