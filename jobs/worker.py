"""The RQ worker class (`RQ['WORKER_CLASS']`): reports job start, a work horse killed mid-job,
times and counts every job it runs (ops/job_runs.py, for /metrics), and keeps a short-lived
liveness key so a worker killed with kill -9 is noticed in seconds (reaper.py), not after RQ's
own heartbeat expiry."""

from __future__ import annotations

import logging
import os

from django.db import close_old_connections
from rq.callbacks import execute_failure_callback
from rq.serializers import JSONSerializer
from rq.worker import Worker

from jobs import lifecycle, reaper
from ops import job_runs
from project.logcontext import job_context
from realtime.redis import sync_client

log = logging.getLogger(__name__)


class TrackingWorker(Worker):
    def __init__(self, *args, **kwargs) -> None:
        # Heartbeats (and our liveness key) every few seconds while a job runs. (Worker.__init__
        # sets the attribute from its argument, so a class attribute would be overwritten.)
        kwargs.setdefault("job_monitoring_interval", int(os.environ.get("RQ_JOB_MONITORING_INTERVAL", "5")))
        # Jobs are JSON, never pickle (rqworker passes its pickle default when not told).
        kwargs["serializer"] = JSONSerializer
        kwargs.setdefault("maintenance_interval", int(os.environ.get("RQ_MAINTENANCE_INTERVAL", "30")))
        super().__init__(*args, **kwargs)

    def heartbeat(self, timeout=None, pipeline=None) -> None:
        super().heartbeat(timeout, pipeline)
        reaper.mark_alive(self.connection, self.name, self.job_monitoring_interval)

    def bootstrap(self, *args, **kwargs) -> None:
        super().bootstrap(*args, **kwargs)
        self._reap("startup")

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        self._reap("maintenance")

    def _reap(self, when: str) -> None:
        try:
            count = reaper.reap_dead_workers(self.connection, exclude=self.name)
            if count:
                log.warning("reaper (%s): recovered %s job(s) of dead workers", when, count)
        except Exception:
            log.exception("reaper failed (%s)", when)

    def perform_job(self, job, queue, execution) -> bool:
        """In the work horse: the job's lines (its start, its function, its callbacks) carry its
        id and the id of the request that enqueued it (project.logcontext)."""
        with job_context(job):
            ok = super().perform_job(job, queue, execution)
        _count(job, "success" if ok else "error")
        return ok

    def prepare_job_execution(self, job, remove_from_intermediate_queue: bool = False) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        close_old_connections()
        lifecycle.on_start(job)

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage) -> None:
        """The work horse died mid-job (OOM killer, kill -9): RQ retries or fails the job but, as
        the horse never got to run it, nobody runs the job's failure callback. Run it here, so
        every app hears of this failure the same way as of any other."""
        with job_context(job):
            super().handle_work_horse_killed(job, retpid, ret_val, rusage)
            close_old_connections()
            error = lifecycle.WorkHorseKilledError(f"the work horse died (waitpid status {ret_val})")
            try:
                execute_failure_callback(job, self.death_penalty_class, type(error), error, None)
            except Exception:
                log.exception("failure callback raised for killed work horse of job %s", job.id)
        _count(job, "error")


def _count(job, outcome: str) -> None:
    try:
        func = job.func_name
    except Exception:  # data that no longer deserializes
        func = None
    job_runs.record(sync_client(), func, outcome, job_runs.duration(job))
