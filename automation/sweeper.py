"""The safety net for runs whose job is gone: a run that is queued or running while its RQ job
has ended (failed, stopped, cancelled, finished) or no longer exists is marked failed and its
owner told, so no run stays "running" forever.

The reaper (jobs/reaper.py) already handles a dead worker's job on the next worker start or cron
tick; this catches what it can't: a work horse killed while its worker lived on and no retry was
left (RQ fails such a job without calling the failure callback), or a Redis that lost its jobs.

Race we accept: a run whose job was enqueued after commit a moment ago could look "missing" if
the sweep ran between the commit and the enqueue; the grace period makes that practically
impossible, and the owner could retry it if it happened."""

from __future__ import annotations

import logging
from datetime import timedelta

import django_rq
from django.conf import settings
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from automation import services
from automation.models import AutomationRun

log = logging.getLogger(__name__)
ENDED = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED}


def _job_ended(connection, job_id: str) -> bool:
    try:
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return True
    return job.get_status(refresh=False) in ENDED


def sweep_stale_runs() -> int:
    grace = settings.AUTOMATION_SWEEP_GRACE_SECONDS
    connection = django_rq.get_connection("default")
    cutoff = timezone.now() - timedelta(seconds=grace)
    failed = 0
    for run in AutomationRun.objects.filter(status__in=AutomationRun.ACTIVE, created_at__lt=cutoff).only(
        "pk", "job_id"
    ):
        if run.job_id and not _job_ended(connection, run.job_id):
            continue
        if services.fail(
            run_id=run.pk, job_id=run.job_id, error="The worker running this automation stopped unexpectedly."
        ):
            failed += 1
    if failed:
        log.warning("sweeper marked %s stale automation run(s) failed", failed)
    return failed
