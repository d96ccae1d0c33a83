"""The RQ worker class (`RQ['WORKER_CLASS']`): reports job start, a work horse killed mid-job,
announces every job it runs (jobs.signals.job_ran: ops times and counts them for /metrics), and keeps a short-lived
liveness key so a worker killed with kill -9 is noticed in seconds (reaper.py), not after RQ's
own heartbeat expiry.

It also rides out a Redis outage (a restart, with or without its data). RQ's worker quits on a
Redis error anywhere but in its dequeue loop ("found an unhandled exception, quitting"), most
often while it monitors a running job, whose heartbeat fails. This one keeps going: a failed
heartbeat is logged and retried at the next one (the work horse carries on), other Redis calls
of its loop back off and retry, and once Redis answers again it registers itself again (an empty
Redis forgot it) and restarts its scheduler process, which does die on a Redis error. A
supervisor (systemd, scripts/run.sh) is still wanted for anything else a process can die of."""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings
from django.db import close_old_connections
from rq import worker_registration
from rq.callbacks import execute_failure_callback
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer
from rq.worker import Worker

from jobs import lifecycle, reaper, signals
from jobs.compat import scheduler_running
from realtime.logcontext import job_context

log = logging.getLogger(__name__)

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# Back-off while Redis is unreachable outside the dequeue loop (which has its own).
OUTAGE_BACKOFF_MAX = 10.0


class TrackingWorker(Worker):
    def __init__(self, *args, **kwargs) -> None:
        # Heartbeats (and our liveness key) every few seconds while a job runs. (Worker.__init__
        # sets the attribute from its argument, so a class attribute would be overwritten.)
        kwargs.setdefault("job_monitoring_interval", settings.RQ_JOB_MONITORING_INTERVAL)
        # Jobs are JSON, never pickle (rqworker passes its pickle default when not told).
        kwargs["serializer"] = JSONSerializer
        kwargs.setdefault("maintenance_interval", settings.RQ_MAINTENANCE_INTERVAL)
        super().__init__(*args, **kwargs)
        self._redis_down_since: float | None = None
        self._outage_backoff = 0.5

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks an idle worker on its queues for worker_ttl - 15 s (405 s), so its maintenance
        # (reaping dead workers' jobs, restarting its scheduler) waited as long: wake up as often
        # as maintenance is due.
        return max(1, min(super().dequeue_timeout, self.maintenance_interval))

    # --- Redis outages -----------------------------------------------------------------------------

    def _redis_failed(self, where: str, exc: Exception) -> None:
        if self._redis_down_since is None:
            self._redis_down_since = time.monotonic()
            log.warning("worker %s: Redis unreachable (%s: %s), carrying on", self.name, where, exc)

    def _redis_back(self) -> None:
        if self._redis_down_since is None or self.is_horse:
            return
        down = time.monotonic() - self._redis_down_since
        self._redis_down_since = None
        self._outage_backoff = 0.5
        log.warning("worker %s: Redis reachable again after %.1f s", self.name, down)
        try:
            # An empty Redis forgot this worker: register it again (its hash was recreated by the
            # heartbeat without a birth date, and it is no longer in the set of workers).
            with self.connection.pipeline() as pipeline:
                if self.birth_date is None:
                    self.birth_date = self.last_heartbeat
                pipeline.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, pipeline)
                pipeline.expire(self.key, self.worker_ttl + 60)
                pipeline.execute()
        except REDIS_ERRORS as exc:
            self._redis_failed("re-register", exc)
            return
        self._adopt_scheduler()

    def _back_off(self) -> None:
        time.sleep(self._outage_backoff)
        self._outage_backoff = min(self._outage_backoff * 2, OUTAGE_BACKOFF_MAX)

    def heartbeat(self, timeout=None, pipeline=None) -> None:
        try:
            super().heartbeat(timeout, pipeline)
            reaper.mark_alive(self.connection, self.name, self.job_monitoring_interval)
        except REDIS_ERRORS as exc:
            self._redis_failed("heartbeat", exc)
            return
        if pipeline is None:  # (with a pipeline, the caller's execute() tells)
            self._redis_back()

    def maintain_heartbeats(self, job, execution) -> None:
        """Every job_monitoring_interval while the horse works: a failure (Redis down) must not
        end the worker, which RQ lets it do, leaving the horse unwatched."""
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_ERRORS as exc:
            self._redis_failed("job heartbeat", exc)
            return
        self._redis_back()

    def check_for_suspension(self, burst: bool) -> None:
        while True:
            try:
                return super().check_for_suspension(burst)
            except REDIS_ERRORS as exc:
                self._redis_failed("suspension check", exc)
                self._back_off()

    def execute_job(self, job, queue) -> None:
        try:
            super().execute_job(job, queue)
        except REDIS_ERRORS as exc:
            # Redis went away around the job (its start or its end could not be recorded): the
            # job is left to RQ's registry cleanup and our reapers, which run it again.
            self._redis_failed(f"job {job.id}", exc)
            log.exception("worker %s: Redis failed around job %s; the reapers will recover it", self.name, job.id)
            self._back_off()
            return
        # The job may have been the cron's reap_job, which releases a dead scheduler's lock but,
        # running in a work horse, can't take it over: this worker can (one EXISTS per queue).
        self._adopt_scheduler()

    def bootstrap(self, *args, **kwargs) -> None:
        super().bootstrap(*args, **kwargs)
        self._reap("startup")

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()
        except REDIS_ERRORS as exc:
            self._redis_failed("maintenance", exc)
            return
        self._reap("maintenance")

    # --- dead workers and their scheduler ------------------------------------------------------------

    def _reap(self, when: str) -> None:
        try:
            count = reaper.reap_dead_workers(self.connection, exclude=self.name)
            if count:
                log.warning("reaper (%s): recovered %s job(s) of dead workers", when, count)
            released = reaper.release_dead_scheduler_locks(self.connection)
            if released:
                log.warning("reaper (%s): released the scheduler locks of dead schedulers: %s", when, released)
                self._adopt_scheduler()
        except REDIS_ERRORS as exc:
            self._redis_failed(f"reaper ({when})", exc)
        except Exception:
            log.exception("reaper failed (%s)", when)

    def _adopt_scheduler(self) -> None:
        """Run RQ's scheduler here if this worker has one (--with-scheduler) that is not running
        and a queue's scheduler lock is free (its holder died, was reaped, or Redis lost it).
        RQ itself only tries again every maintenance interval."""
        scheduler = self.scheduler
        if self.is_horse or scheduler is None or scheduler_running(scheduler):
            return
        try:
            names = [q.name for q in self.queues]
            if not any(self.connection.exists(RQScheduler.get_locking_key(n)) == 0 for n in names):
                return
            if scheduler.acquire_locks(auto_start=True):
                log.warning("worker %s: took over RQ's scheduler for %s", self.name, sorted(scheduler.acquired_locks))
        except REDIS_ERRORS as exc:
            self._redis_failed("scheduler", exc)

    # --- the job lifecycle ---------------------------------------------------------------------------

    def perform_job(self, job, queue, execution) -> bool:
        """In the work horse: the job's lines (its start, its function, its callbacks) carry its
        id and the id of the request that enqueued it (realtime.logcontext)."""
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
    signals.job_ran.send_robust(
        TrackingWorker, connection=job.connection, func=func, outcome=outcome, seconds=signals.duration(job)
    )
