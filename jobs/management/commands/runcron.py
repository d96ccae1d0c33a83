"""`manage.py runcron project.cron`: RQ's cron scheduler, enqueueing with the JSON serializer.

django-rq's `rqcron` enqueues through rq's CronJob, which builds a plain `Queue` (pickle
serializer); our workers only accept JSON (pickle from Redis would let anyone who can write to
Redis run code), so this command swaps in a CronJob that enqueues on the configured queue.

rq's scheduler loop has no answer to a Redis outage: a ConnectionError at birth or in any tick
ended the process (seen when Redis restarted while it started), and with it the reaper that
recovers lost jobs. `ResilientCronScheduler` rides out the outage, as TrackingWorker does."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from typing import Any

import django_rq
from django.core.management.base import BaseCommand
from django_rq.cron import DjangoCronScheduler
from rq import cron_job_registry
from rq.cron import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL, CronJob
from rq.exceptions import StopRequested
from rq.job import Job

from jobs.worker import OUTAGE_BACKOFF_MAX, REDIS_ERRORS

log = logging.getLogger(__name__)


class JsonCronJob(CronJob):
    def enqueue(self, connection) -> Job:
        queue = django_rq.get_queue(self.queue_name)  # the JSON serializer from RQ_QUEUES
        job = queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options)
        timestamp = job.enqueued_at.timestamp()
        try:
            with connection.pipeline() as pipeline:
                pipeline.zadd(self.job_history_key, {job.id: timestamp})
                pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
                pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
                cron_job_registry.add(self.name, pipeline, enqueue_timestamp=timestamp)
                pipeline.execute()
        except REDIS_ERRORS as exc:
            # the job is enqueued: return it, so its next run time is set and it is not enqueued
            # again at the next tick; only the history (rqcron's listing) misses this run
            log.warning("cron enqueued %s but could not record it in the history: %s", self.func.__name__, exc)
        log.info("cron enqueued %s on %s", self.func.__name__, self.queue_name)
        return job


class ResilientCronScheduler(DjangoCronScheduler):
    """rq's CronScheduler.start(), carrying on through Redis outages (backing off to
    OUTAGE_BACKOFF_MAX seconds between tries); a cron job whose enqueue failed is due again at
    the next tick."""

    _down_since: float | None = None
    _backoff = 0.5

    def _try(self, step: Callable[[], Any], where: str) -> bool:
        try:
            step()
        except REDIS_ERRORS as exc:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("cron %s: Redis unreachable (%s: %s), carrying on", self.name, where, exc)
            time.sleep(self._backoff)  # an outage: nothing to wait on but Redis coming back
            self._backoff = min(self._backoff * 2, OUTAGE_BACKOFF_MAX)
            return False
        if self._down_since is not None:
            log.warning("cron %s: Redis reachable again after %.1f s", self.name, time.monotonic() - self._down_since)
            self._down_since, self._backoff = None, 0.5
        return True

    def stop_on_signal(self, signum: int, frame: Any) -> None:
        self.log.info("CronScheduler %s: received shutdown signal %s", self.name, signum)
        raise StopRequested()

    def _tick(self) -> None:
        if self.enqueue_jobs():
            self.save()  # the jobs' next run times, for `rqcron` status
        self.heartbeat()  # re-creates this scheduler's hash after an empty restart

    def start(self) -> None:
        self.log.info("CronScheduler %s: starting...", self.name)
        for signum in (signal.SIGINT, signal.SIGTERM):  # what rq's start() installs, as our own handler
            signal.signal(signum, self.stop_on_signal)
        try:
            while not self._try(self.register_birth, "birth"):
                pass
            while True:
                if self._try(self._tick, "tick"):
                    sleep_time = self.calculate_sleep_interval()
                    if sleep_time > 0:
                        time.sleep(sleep_time)  # until the next cron job is due
        except KeyboardInterrupt:
            self.log.info("CronScheduler %s: received KeyboardInterrupt", self.name)
        except StopRequested:
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            try:
                self.register_death()
            except REDIS_ERRORS as exc:
                log.warning("cron %s: could not register its death (Redis: %s)", self.name, exc)
            self.log.info("CronScheduler %s: shutdown complete", self.name)


class Command(BaseCommand):
    help = "Run the RQ cron scheduler for a cron config module (JSON-serialised jobs)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("config_path", nargs="?", default="project.cron")

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = ResilientCronScheduler(logging_level=logging.INFO)
        scheduler.load_config_from_file(options["config_path"])
        for job in scheduler.get_jobs():
            job.__class__ = JsonCronJob
        self.stdout.write(f"cron scheduler with {len(scheduler.get_jobs())} job(s)")
        scheduler.start()
