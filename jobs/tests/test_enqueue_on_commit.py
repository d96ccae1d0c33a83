"""A tracked job is enqueued when its transaction commits, with the JSON serializer, an explicit
timeout and the retry policy (ARCHITECTURE rule 7); a rolled-back transaction leaves no RQ job,
no record and no event."""

from __future__ import annotations

import json
import zlib

import django_rq
import pytest
from django.conf import settings
from django.db import transaction
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs.models import JobRecord
from jobs.services import enqueue_tracked
from realtime.emit import emit, project_room

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def test_a_rolled_back_enqueue_leaves_no_job_no_record_and_no_event(world, connect):
    bob = connect(world.token(world.bob))
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    queue = django_rq.get_queue("default")
    with pytest.raises(Rollback), transaction.atomic():
        record = enqueue_tracked(
            "jobs.tasks.demo_job", kind="demo", project=world.apollo, user=world.alice, kwargs={"steps": 1}
        )
        job_id = str(record.pk)
        raise Rollback
    assert not JobRecord.objects.filter(pk=job_id).exists()
    assert not Job.exists(job_id, connection=queue.connection)
    assert job_id not in queue.job_ids
    # a sentinel to the same room from the same publisher: a `queued` event would have come first
    emit("test_event", {"n": 1}, room=project_room(world.apollo.pk))
    bob.wait_for("test_event", lambda d: d["n"] == 1)
    assert [d for d in bob.received("agent_status") if d["job_id"] == job_id] == []


def test_a_committed_enqueue_carries_the_timeout_retries_and_json_serializer(world):
    queue = django_rq.get_queue("default")
    record = enqueue_tracked(
        "jobs.tasks.demo_job", kind="demo", project=world.apollo, user=world.alice, kwargs={"steps": 1}
    )
    job = Job.fetch(str(record.pk), connection=queue.connection, serializer=JSONSerializer)
    try:
        assert job.timeout == settings.RQ_DEFAULT_TIMEOUT
        assert job.retries_left == settings.RQ_MAX_RETRIES
        assert job.kwargs == {"steps": 1}
        # stored as JSON: a pickle-reading worker (or an attacker writing pickles) is not needed
        func, _instance, args, kwargs = json.loads(zlib.decompress(queue.connection.hget(job.key, "data")))
        assert (func, args, kwargs) == ("jobs.tasks.demo_job", [], {"steps": 1})
    finally:
        job.delete()  # the suite's shared worker must not run it for a later test
