"""Finds jobs whose worker died (kill -9, lost machine) and hands them to RQ's own recovery.

A running TrackingWorker refreshes `rt:worker-alive:<name>` on every heartbeat, with a TTL of
three heartbeat intervals. A job in a queue's StartedJobRegistry whose worker has no such key is
abandoned: we expire its registry entry and let RQ's `StartedJobRegistry.cleanup()` do the rest
(retry if it has retries left, otherwise move it to the FailedJobRegistry), which calls the job's
failure callback, so the record and the clients learn of it the same way as any failure.

Race we accept: a worker stalled (not dead) for longer than the TTL has its job retried while it
may still finish; jobs are required to be safe to run twice (idempotency keys), so this costs
work, not correctness.
"""

from __future__ import annotations

import logging

from rq import Queue
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

ALIVE_KEY = "rt:worker-alive:{}"


def mark_alive(connection, name: str, interval: int) -> None:
    connection.set(ALIVE_KEY.format(name), 1, ex=max(3 * interval, 10))


def reap_dead_workers(connection, *, exclude: str | None = None) -> int:
    recovered = 0
    for queue in Queue.all(connection=connection, serializer=JSONSerializer):
        registry = StartedJobRegistry(queue.name, connection=connection, serializer=JSONSerializer)
        expired = []
        for member in connection.zrange(registry.key, 0, -1):
            job_id = member.decode().split(":", 1)[0]
            job = (
                Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
                if Job.exists(job_id, connection)
                else None
            )
            worker = job.worker_name if job else None
            if worker and worker != exclude and not connection.exists(ALIVE_KEY.format(worker)):
                expired.append(member)
        if expired:
            connection.zadd(registry.key, {m: 0 for m in expired})
            registry.cleanup()
            recovered += len(expired)
            log.warning("recovered %s abandoned job(s) on queue %s", len(expired), queue.name)
    return recovered


def reap_job() -> int:
    """RQ cron entry (jobs/cron.py): reap even while every worker is busy with long jobs."""
    import django_rq

    connection = django_rq.get_connection("default")
    return reap_dead_workers(connection) + sweep_lost_jobs(connection)


def sweep_lost_jobs(connection, *, grace_seconds: float | None = None) -> int:
    """Records of jobs whose RQ job no longer exists in Redis (Redis restarted without its data,
    or the enqueue itself failed after commit) would stay queued or running forever. A job with a
    run left is enqueued again (from what its record keeps: tracked jobs are safe to run twice);
    one without is failed, with an event saying why. A record younger than the grace period is
    left alone (it may be mid-enqueue), and so is one changed within it (just requeued, or a job
    still reporting progress). Returns how many records were requeued or failed."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from jobs import services
    from jobs.models import JobRecord

    grace = settings.JOBS_LOST_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = timezone.now() - timedelta(seconds=grace)
    lost = 0
    candidates = JobRecord.objects.filter(
        status__in=(JobRecord.Status.QUEUED, JobRecord.Status.RUNNING), created_at__lt=cutoff, updated_at__lt=cutoff
    )
    for record in candidates.iterator():
        if Job.exists(str(record.pk), connection):
            continue
        if services.requeue_lost(record, LOST_REQUEUED):
            lost += 1
            continue
        why = LOST_NO_RETRY if record.func else LOST_NO_FUNC
        if services.mark_error(str(record.pk), why):
            lost += 1
            log.warning("job lost from Redis, marked failed id=%s: %s", record.pk, why)
    return lost


LOST_REQUEUED = "its queue state was lost (Redis lost its data): enqueued again"
LOST_NO_RETRY = "the job was lost: its queue state is gone (Redis lost its data) and it has no retries left"
LOST_NO_FUNC = "the job was lost: its queue state is gone (Redis lost its data) and it can't be enqueued again"
