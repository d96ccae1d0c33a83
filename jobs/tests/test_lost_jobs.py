"""A job record whose RQ job is gone from Redis (Redis restarted empty) does not stay running: with
a run left it is enqueued again, without it is failed, with an event either way."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from jobs.models import JobRecord
from jobs.reaper import LOST_NO_RETRY, sweep_lost_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def age(record, minutes: int = 5) -> None:
    """Created and last changed `minutes` ago (past the grace period)."""
    then = timezone.now() - timedelta(minutes=minutes)
    JobRecord.objects.filter(pk=record.pk).update(created_at=then, updated_at=then)


def test_a_record_whose_rq_job_vanished_is_failed_and_announced(world, connect):
    alice = connect(world.token(world.alice))
    alice.call("subscribe_project", {"project_id": world.apollo.pk})
    lost = JobRecord.objects.create(kind="demo", project=world.apollo, status=JobRecord.Status.RUNNING)
    age(lost)
    assert sweep_lost_jobs(django_rq.get_connection("default"), grace_seconds=60) == 1
    event = alice.wait_for("agent_status", lambda d: d["job_id"] == str(lost.pk))
    assert event["status"] == "error" and "queue state is gone" in event["error"]
    assert JobRecord.objects.get(pk=lost.pk).status == "error"


def test_it_leaves_young_records_and_jobs_still_in_redis_alone(world, private_queue):
    young = JobRecord.objects.create(kind="demo", project=world.apollo, status=JobRecord.Status.QUEUED)
    queued = JobRecord.objects.create(kind="demo", project=world.apollo, status=JobRecord.Status.QUEUED)
    age(queued)
    private_queue.enqueue("jobs.tasks.demo_job", job_id=str(queued.pk))  # no worker listens
    assert sweep_lost_jobs(django_rq.get_connection("default"), grace_seconds=60) == 0
    assert JobRecord.objects.get(pk=young.pk).status == "queued"
    assert JobRecord.objects.get(pk=queued.pk).status == "queued"


@pytest.fixture
def lost_queue(settings):
    """A configured queue of the test's own: no worker (a session one may run) takes its jobs."""
    import copy
    import uuid

    name = f"lost-{uuid.uuid4().hex[:8]}"
    queues = copy.deepcopy(settings.RQ_QUEUES)
    queues[name] = dict(queues["default"])
    settings.RQ_QUEUES = queues
    queue = django_rq.get_queue(name)
    yield queue
    queue.delete(delete_jobs=True)


def lost_record(world, queue, *, attempts: int, max_retries: int, status=JobRecord.Status.RUNNING) -> JobRecord:
    record = JobRecord.objects.create(
        kind="demo",
        project=world.apollo,
        status=status,
        attempts=attempts,
        func="jobs.tasks.demo_job",
        kwargs={"steps": 2, "step_seconds": 0},
        queue=queue.name,
        max_retries=max_retries,
    )
    age(record)
    return record


def test_a_lost_job_with_a_run_left_is_enqueued_again_with_its_kwargs(world, connect, lost_queue):
    from rq.job import Job
    from rq.serializers import JSONSerializer

    alice = connect(world.token(world.alice))
    alice.call("subscribe_project", {"project_id": world.apollo.pk})
    lost = lost_record(world, lost_queue, attempts=1, max_retries=2)
    connection = django_rq.get_connection("default")
    assert sweep_lost_jobs(connection, grace_seconds=60) == 1
    event = alice.wait_for("agent_status", lambda d: d["job_id"] == str(lost.pk))
    assert event["status"] == "queued" and "enqueued again" in event["error"]
    record = JobRecord.objects.get(pk=lost.pk)
    assert record.status == "queued" and record.message == "requeued"
    job = Job.fetch(str(lost.pk), connection=connection, serializer=JSONSerializer)
    assert job.func_name == "jobs.tasks.demo_job" and job.kwargs == {"steps": 2, "step_seconds": 0}
    assert job.retries_left == 1  # 3 runs in all, 1 used, this is the 2nd
    assert lost_queue.job_ids == [str(lost.pk)]
    # requeued just now: a second sweep leaves it alone (its job exists, and it is young)
    assert sweep_lost_jobs(connection, grace_seconds=60) == 0


def test_a_lost_job_never_started_is_enqueued_again_even_without_retries(world, lost_queue):
    lost = lost_record(world, lost_queue, attempts=0, max_retries=0, status=JobRecord.Status.QUEUED)
    assert sweep_lost_jobs(django_rq.get_connection("default"), grace_seconds=60) == 1
    assert JobRecord.objects.get(pk=lost.pk).status == "queued"
    assert lost_queue.job_ids == [str(lost.pk)]


def test_a_lost_job_without_retries_left_is_failed_saying_so(world, connect, lost_queue):
    alice = connect(world.token(world.alice))
    alice.call("subscribe_project", {"project_id": world.apollo.pk})
    lost = lost_record(world, lost_queue, attempts=3, max_retries=2)
    assert sweep_lost_jobs(django_rq.get_connection("default"), grace_seconds=60) == 1
    event = alice.wait_for("agent_status", lambda d: d["job_id"] == str(lost.pk))
    assert event["status"] == "error" and event["error"] == LOST_NO_RETRY
    assert JobRecord.objects.get(pk=lost.pk).status == "error"
