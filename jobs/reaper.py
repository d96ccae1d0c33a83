"""Finds jobs whose worker died (kill -9, lost machine) and hands them to RQ's own recovery.

A running TrackingWorker refreshes `rt:worker-alive:<name>` on every heartbeat, with a TTL of
three heartbeat intervals. A job in a queue's StartedJobRegistry whose worker has no such key is
abandoned: we expire its registry entry and let RQ's `StartedJobRegistry.cleanup()` do the rest
(retry if it has retries left, otherwise move it to the FailedJobRegistry), which calls the job's
failure callback, so the record and the clients learn of it the same way as any failure. A retry
is then enqueued at once rather than after its back-off, and the scheduler lock a dead worker held
is released (RQ keeps it a minute), so a dead worker delays nobody's scheduled jobs.

Race we accept: a worker stalled (not dead) for longer than the TTL has its job retried while it
may still finish; jobs are required to be safe to run twice (idempotency keys), so this costs
work, not correctness.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import InvalidJobOperation
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import release_lock
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

ALIVE_KEY = "rt:worker-alive:{}"
# RQ's scheduler refreshes its lock's TTL (interval + 60 s; RQ's default interval, 1 s) every
# second; a lock not refreshed for this long belongs to a dead scheduler.
SCHEDULER_STALE_SECONDS = 10
SCHEDULER_LOCK_TTL = 61


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
            _retry_now(connection, queue, [m.decode().split(":", 1)[0] for m in expired])
    return recovered


def _retry_now(connection, queue: Queue, job_ids: list[str]) -> None:
    """RQ schedules the retry of an abandoned job after its Retry interval, and only the process
    holding RQ's scheduler lock for the queue enqueues it; the dead worker may have been that
    process, and its lock outlives it by a minute. The job did nothing wrong (its worker died):
    put it back on its queue now, for the next free worker."""
    scheduled = ScheduledJobRegistry(queue.name, connection=connection, serializer=JSONSerializer)
    for job_id in job_ids:
        if connection.zscore(scheduled.key, job_id) is None:
            continue  # failed (no retry left), or already enqueued
        try:
            scheduled.requeue(job_id)
            log.warning("retry of abandoned job %s enqueued now on %s", job_id, queue.name)
        except InvalidJobOperation:
            pass  # a scheduler enqueued it meanwhile


def release_dead_scheduler_locks(connection, *, stale_seconds: float = SCHEDULER_STALE_SECONDS) -> list[str]:
    """Release RQ's scheduler lock of each queue whose holder is dead: its scheduler process
    (which refreshes the lock and its own hash every second) has not been heard of for
    `stale_seconds`. RQ lets such a lock expire by itself after a minute, and until then nobody
    enqueues the queue's scheduled jobs (retries with back-off among them). Returns the queues."""
    released = []
    for queue in Queue.all(connection=connection, serializer=JSONSerializer):
        key = RQScheduler.get_locking_key(queue.name)
        owner = connection.get(key)
        if not owner:
            continue
        owner = owner.decode()
        # How long since the lock was last refreshed, by Redis's own clock (the scheduler's
        # heartbeat time comes from its host's clock, which may be skewed from ours).
        stale = connection.ttl(key) < SCHEDULER_LOCK_TTL - stale_seconds
        if stale and release_lock(connection, key, owner):
            released.append(queue.name)
            log.warning("released the scheduler lock of queue %s held by dead scheduler %s", queue.name, owner)
    return released


def reap_job() -> int:
    """RQ cron entry (jobs/cron.py): reap even while every worker is busy with long jobs."""
    import django_rq

    connection = django_rq.get_connection("default")
    release_dead_scheduler_locks(connection)
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
        try:
            if Job.exists(str(record.pk), connection):
                continue
            if services.requeue_lost(record, LOST_REQUEUED):
                lost += 1
                continue
        except RedisError as exc:  # Redis flapping: the others still get their turn; this one the next sweep
            log.warning("lost-job sweep: Redis failed for id=%s (%s), next sweep", record.pk, exc.__class__.__name__)
            continue
        why = LOST_NO_RETRY if record.func else LOST_NO_FUNC
        if services.mark_error(str(record.pk), why):
            lost += 1
            log.warning("job lost from Redis, marked failed id=%s: %s", record.pk, why)
    return lost


LOST_REQUEUED = "its queue state was lost (Redis lost its data): enqueued again"
LOST_NO_RETRY = "the job was lost: its queue state is gone (Redis lost its data) and it has no retries left"
LOST_NO_FUNC = "the job was lost: its queue state is gone (Redis lost its data) and it can't be enqueued again"
