"""kill -9 an RQ worker (and its work horse and scheduler) mid-job: the job never stays "running".
A surviving worker and the cron reaper are running all along, as in production; nothing is
started after the kill. The reaper (jobs/reaper.py, every JOBS_REAP_INTERVAL_SECONDS on a free
worker) notices the dead worker once its liveness key expires: with a retry left, the job is put
back on the queue at once (not after its back-off, which only the dead worker's scheduler lock
holder would have enqueued) and runs again to success on the survivor; without, it ends in
error. Either way the clients get the status events, within a stated bound."""

from __future__ import annotations

import sys
import time

import pytest
from redis import Redis
from rq import Worker
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from jobs.services import enqueue_tracked
from realtime.emit import project_room
from testing.counts import record_counts
from testing.processes import kill_machine, process_env, spawn
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# kill -9 to the job's final status: liveness key expiry (10 s at a 1 s heartbeat) + a reaper
# tick (5 s) + the job's own 4 s, with room to spare
RECOVERY_BOUND_SECONDS = 30


@pytest.mark.parametrize("retries", [1, 0], ids=["retried", "failed"])
def test_it_never_leaves_a_job_running_after_kill_9(world, on_own_redis, worker_factory, connect, retries, request):
    from testing.processes import start_server

    server = start_server(REDIS_URL=on_own_redis.url)
    request.addfinalizer(server.proc.stop)
    redis = Redis.from_url(on_own_redis.url)
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
    alice.wait_for("agent_status", lambda d: mine(d) and d["status"] == "running", timeout=60)
    worker_name = Job.fetch(job_id, connection=redis, serializer=JSONSerializer).worker_name
    # the survivor and the cron reaper, up before the kill (the first worker took the job, and
    # holds RQ's scheduler lock)
    survivor = worker_factory(REDIS_URL=on_own_redis.url)
    cron = spawn(
        "runcron", [sys.executable, "manage.py", "runcron", "project.cron"], process_env(REDIS_URL=on_own_redis.url)
    )
    request.addfinalizer(cron.stop)
    wait_until(lambda: len(Worker.all(connection=redis)) == 2, timeout=30, what="the surviving worker registered")
    lock = RQScheduler.get_locking_key("default")
    dead_scheduler = redis.get(lock)
    assert dead_scheduler is not None
    alice.wait_for("agent_progress", lambda d: mine(d) and d["progress"] >= 20, timeout=60)

    not_running = lambda d: mine(d) and d["status"] != "running"  # noqa: E731
    before = len([d for d in alice.received("agent_status") if not_running(d)])  # its first `queued`
    killed_at = time.monotonic()
    killed = kill_machine(first)
    left = alice.wait_for("agent_status", not_running, count=before + 1, timeout=RECOVERY_BOUND_SECONDS)
    left_running_in = time.monotonic() - killed_at
    final = "success" if retries else "error"
    alice.wait_for(
        "agent_status",
        lambda d: mine(d) and d["status"] == final,
        timeout=max(1, RECOVERY_BOUND_SECONDS - left_running_in),
    )
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < RECOVERY_BOUND_SECONDS
    record.refresh_from_db()
    assert record.status == final
    statuses = [d["status"] for d in alice.received("agent_status") if mine(d)]
    if retries:
        assert left["status"] == "queued"
        assert statuses == ["queued", "running", "queued", "running", "success"], statuses
        assert record.attempts == 2
        assert Job.fetch(job_id, connection=redis, serializer=JSONSerializer).worker_name != worker_name
    else:
        assert statuses == ["queued", "running", "error"], statuses
        assert "died" in record.error or "abandoned" in record.error, record.error
    # the dead worker's scheduler lock was released and a live worker took over scheduling
    wait_until(
        lambda: redis.get(lock) not in (None, dead_scheduler), timeout=20, what="a live scheduler holds the lock"
    )
    assert survivor.popen.poll() is None, survivor.log()
    record_counts(
        f"kill -9 a worker mid-job ({'retry left' if retries else 'no retry'})",
        {
            "processes_killed": killed,
            "status_events": len(statuses),
            "final_status": record.status,
            "attempts": record.attempts,
            "seconds_to_leave_running": round(left_running_in, 1),
            "seconds_to_recover": round(recovered_in, 1),
            "bound_seconds": RECOVERY_BOUND_SECONDS,
            "duplicates_dropped_client": alice.duplicates,
        },
    )
