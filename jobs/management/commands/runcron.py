"""`manage.py runcron project.cron`: RQ's cron scheduler, enqueueing with the JSON serializer.

django-rq's `rqcron` enqueues through rq's CronJob, which builds a plain `Queue` (pickle
serializer); our workers only accept JSON (pickle from Redis would let anyone who can write to
Redis run code), so this command swaps in a CronJob that enqueues on the configured queue."""

from __future__ import annotations

import logging
from typing import Any

import django_rq
from django.core.management.base import BaseCommand
from django_rq.cron import DjangoCronScheduler
from rq import cron_job_registry
from rq.cron import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL, CronJob
from rq.job import Job

log = logging.getLogger(__name__)


class JsonCronJob(CronJob):
    def enqueue(self, connection) -> Job:
        queue = django_rq.get_queue(self.queue_name)  # the JSON serializer from RQ_QUEUES
        job = queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options)
        timestamp = job.enqueued_at.timestamp()
        with connection.pipeline() as pipeline:
            pipeline.zadd(self.job_history_key, {job.id: timestamp})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            cron_job_registry.add(self.name, pipeline, enqueue_timestamp=timestamp)
            pipeline.execute()
        log.info("cron enqueued %s on %s", self.func.__name__, self.queue_name)
        return job


class Command(BaseCommand):
    help = "Run the RQ cron scheduler for a cron config module (JSON-serialised jobs)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("config_path", nargs="?", default="project.cron")

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = DjangoCronScheduler(logging_level=logging.INFO)
        scheduler.load_config_from_file(options["config_path"])
        for job in scheduler.get_jobs():
            job.__class__ = JsonCronJob
        self.stdout.write(f"cron scheduler with {len(scheduler.get_jobs())} job(s)")
        scheduler.start()
