"""kill -9 an RQ worker (and its work horse) mid-job: the job never stays "running". Another
worker notices the dead one (its liveness key expires, jobs/reaper.py) and hands the job to RQ:
with a retry left it runs again to success; without, it ends in error. Either way the clients
get the status events, and a client's view (stale copy + events) matches the database."""

from __future__ import annotations

import time

import pytest
from redis import Redis
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from jobs.reaper import ALIVE_KEY
from jobs.services import enqueue_tracked
from realtime.emit import project_room
from tests.conftest import kill_machine, record_counts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("retries", [1, 0], ids=["retried", "failed"])
def test_it_never_leaves_a_job_running_after_kill_9(world, on_own_redis, worker_factory, connect, retries):
    from conftest import start_server

    server = start_server(REDIS_URL=on_own_redis.url)
    try:
        first = worker_factory(REDIS_URL=on_own_redis.url)
        alice = connect(world.token(world.alice), url=server.url)
        assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
        record = enqueue_tracked(
            "jobs.tasks.demo_job",
            kind="demo",
            kwargs={"steps": 40, "step_seconds": 0.1},
            project=world.apollo,
            retries=retries,
        )
        job_id = str(record.pk)
        mine = lambda d: d["job_id"] == job_id and d["_meta"]["room"] == project_room(world.apollo.pk)  # noqa: E731
        alice.wait_for("agent_progress", lambda d: mine(d) and d["progress"] >= 20, timeout=60)
        redis = Redis.from_url(on_own_redis.url)
        worker_name = Job.fetch(job_id, connection=redis, serializer=JSONSerializer).worker_name
        killed_at = time.monotonic()
        killed = kill_machine(first)
        # The dead worker's liveness key expires (10 s); a worker starting after that reaps its
        # job at once (in production the reaper also runs every 30 s from cron: jobs/cron.py).
        # A retry is scheduled (Retry intervals), and only the process holding RQ's scheduler
        # lock enqueues it: the dead worker held it, and RQ lets it expire (interval + 60 s).
        waits = [ALIVE_KEY.format(worker_name)] + ([RQScheduler.get_locking_key("default")] if retries else [])
        deadline = time.monotonic() + 90
        while any(redis.exists(key) for key in waits):
            assert time.monotonic() < deadline, f"{waits} never expired"
            time.sleep(0.2)  # a TTL running out: nothing to wait on
        worker_factory(REDIS_URL=on_own_redis.url)

        final = "success" if retries else "error"
        alice.wait_for("agent_status", lambda d: mine(d) and d["status"] == final, timeout=90)
        recovered_in = time.monotonic() - killed_at
        record.refresh_from_db()
        assert record.status == final
        statuses = [d["status"] for d in alice.received("agent_status") if mine(d)]
        if retries:
            assert statuses == ["queued", "running", "queued", "running", "success"], statuses
            assert record.attempts == 2
        else:
            assert statuses == ["queued", "running", "error"], statuses
            assert "died" in record.error or "abandoned" in record.error, record.error
        record_counts(
            f"kill -9 a worker mid-job ({'retry left' if retries else 'no retry'})",
            {
                "processes_killed": killed,
                "status_events": len(statuses),
                "final_status": record.status,
                "attempts": record.attempts,
                "seconds_to_recover": round(recovered_in, 1),
                "duplicates_dropped_client": alice.duplicates,
            },
        )
    finally:
        server.proc.stop()
