"""A job record whose RQ job is gone from Redis (Redis restarted empty) does not stay running."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from jobs.models import JobRecord
from jobs.reaper import sweep_lost_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_record_whose_rq_job_vanished_is_failed_and_announced(world, connect):
    alice = connect(world.token(world.alice))
    alice.call("subscribe_project", {"project_id": world.apollo.pk})
    lost = JobRecord.objects.create(kind="demo", project=world.apollo, status=JobRecord.Status.RUNNING)
    JobRecord.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert sweep_lost_jobs(django_rq.get_connection("default"), grace_seconds=60) == 1
    event = alice.wait_for("agent_status", lambda d: d["job_id"] == str(lost.pk))
    assert event["status"] == "error" and "queue state is gone" in event["error"]
    assert JobRecord.objects.get(pk=lost.pk).status == "error"


def test_it_leaves_young_records_and_jobs_still_in_redis_alone(world, private_queue):
    young = JobRecord.objects.create(kind="demo", project=world.apollo, status=JobRecord.Status.QUEUED)
    queued = JobRecord.objects.create(kind="demo", project=world.apollo, status=JobRecord.Status.QUEUED)
    JobRecord.objects.filter(pk=queued.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    private_queue.enqueue("jobs.tasks.demo_job", job_id=str(queued.pk))  # no worker listens
    assert sweep_lost_jobs(django_rq.get_connection("default"), grace_seconds=60) == 0
    assert JobRecord.objects.get(pk=young.pk).status == "queued"
    assert JobRecord.objects.get(pk=queued.pk).status == "queued"
