"""Restart Redis mid-run, with its data kept (append-only file) and empty. Server processes and
workers reconnect by themselves (nobody restarts them); jobs resume. With the data kept, every
client still ends with every event exactly once, in order: a server refills from the replay log
what its pub/sub subscription missed while reconnecting. Empty, the logs are gone: every client
is told `resync_required` for each of its rooms (new epoch), and the stream continues after it
without a gap; the job that was running is enqueued again from its record and succeeds."""

from __future__ import annotations

import sys
import time

import pytest

from jobs.models import JobRecord
from jobs.services import enqueue_tracked
from realtime.emit import project_room, user_room
from testing.counts import record_counts
from testing.processes import process_env, spawn
from testing.stream import Stream, disconnect_all, numbers
from testing.waits import counter_delta, server_counters

pytestmark = pytest.mark.django_db(transaction=True)


def job_done(record_id) -> str:
    return JobRecord.objects.get(pk=record_id).status


@pytest.mark.parametrize("keep_data", [True, False], ids=["data-kept", "empty"])
def test_it_survives_a_redis_restart(world, on_own_redis, cluster_factory, worker_factory, connect, keep_data, request):
    cluster = cluster_factory(2, REDIS_URL=on_own_redis.url)
    worker = worker_factory(REDIS_URL=on_own_redis.url)
    cron = spawn(
        "runcron", [sys.executable, "manage.py", "runcron", "project.cron"], process_env(REDIS_URL=on_own_redis.url)
    )  # the reaper and the lost-job sweep, every JOBS_REAP_INTERVAL_SECONDS (jobs/cron.py)
    request.addfinalizer(lambda: cron.stop())
    clients = [connect(world.token(world.alice), url=server.url) for server in cluster.servers]
    project, mine = project_room(world.apollo.pk), user_room(world.alice.pk)
    for client in clients:
        assert client.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    long_job = enqueue_tracked(
        "jobs.tasks.demo_job", kind="demo", kwargs={"steps": 15, "step_seconds": 0.2}, project=world.apollo
    )
    clients[0].wait_for("agent_status", lambda d: d["job_id"] == str(long_job.pk) and d["status"] == "running")
    before = server_counters(on_own_redis.url, since=time.time())

    stream = Stream([project, mine], interval=0.01).start()
    stream.wait_sent(80)
    restarted_at = stream.sent
    on_own_redis.restart(keep_data=keep_data, down_seconds=2)  # longer than a worker heartbeat
    stream.wait_sent(restarted_at + 150, timeout=60)
    last = stream.stop()

    for client in clients:
        for room in (project, mine):
            client.wait_for(
                "test_event", lambda d, room=room: d["n"] == last and d["_meta"]["room"] == room, timeout=30
            )
    watched = [(c, r) for c in clients for r in (project, mine)]
    contiguous_after_resync = 0
    if keep_data:
        for client, room in watched:
            assert numbers(client, room) == list(range(1, last + 1)), room
            assert not client.resyncs
    else:
        for client, room in watched:
            got = numbers(client, room)
            assert got == sorted(set(got)), "duplicates or out of order"
            assert got[:restarted_at] == list(range(1, restarted_at + 1))
            assert any(r["room"] == room and r["reason"] == "epoch_changed" for _, r in client.resyncs), room
            # after its (last) resync the room's events arrive without a gap, up to the last one
            after = after_last_resync(client, room)
            assert after, f"no event after the resync of {room}"
            assert after == list(range(after[0], last + 1)), (room, after[:5], after[-5:])
            contiguous_after_resync += len(after)

    # rq's own worker quits on a Redis error while it monitors a running job; TrackingWorker
    # (jobs/worker.py) carries on, and so does the cron process: nobody restarts them here.
    assert worker.popen.poll() is None, worker.log()
    assert cron.popen.poll() is None, cron.log()
    # the job that was running across the restart ends in success: retried with the data kept
    # if it failed meanwhile; enqueued again from its record when Redis lost it (jobs/reaper.py)
    clients[0].wait_for(
        "agent_status",
        lambda d: d["job_id"] == str(long_job.pk) and d["status"] in ("success", "error"),
        timeout=90,
    )
    long_job.refresh_from_db()
    assert long_job.status == "success", (long_job.status, long_job.error)
    # jobs resume: a new job runs to the end on the restarted Redis
    fresh = enqueue_tracked(
        "jobs.tasks.demo_job", kind="demo", kwargs={"steps": 2, "step_seconds": 0.05}, project=world.apollo
    )
    clients[0].wait_for("agent_status", lambda d: d["job_id"] == str(fresh.pk) and d["status"] == "success", timeout=60)

    # the servers' counters live in the processes (republished to Redis every 0.5 s), so an
    # empty Redis loses only the copy: the delta is measured either way
    after = server_counters(on_own_redis.url, since=time.time())
    record_counts(
        f"restart Redis ({'data kept' if keep_data else 'empty'})",
        {
            "clients": len(clients),
            "events_sent": last * 2,
            "events_received": sum(len(numbers(c, r)) for c, r in watched),
            "events_expected": last * len(watched) if keep_data else "n/a (log lost: resync)",
            "contiguous_after_resync": contiguous_after_resync if not keep_data else "n/a",
            "emit_retries_while_down": stream.failures,
            "gaps_refilled": counter_delta(before, after, "gaps_refilled"),
            "duplicates_dropped_client": sum(c.duplicates for c in clients),
            "resyncs": sum(len(c.resyncs) for c in clients),
            "long_job": f"{long_job.status} (attempts {long_job.attempts})",
            "worker_restarts": 0,
            "redis_down_seconds": 2,
        },
    )
    disconnect_all(clients)


def after_last_resync(client, room: str) -> list[int]:
    """The n of the room's stream events the client kept after its last resync_required for it."""
    with client._cond:
        events = list(client.events)
    last = max(i for i, (_, e, d) in enumerate(events) if e == "resync_required" and d.get("room") == room)
    return [
        d["n"]
        for _, e, d in events[last + 1 :]
        if e == "test_event" and d.get("_meta", {}).get("room") == room and d.get("source") == "stream"
    ]


def test_it_recovers_a_job_whose_queue_state_was_lost(world, on_own_redis, worker_factory, connect, request):
    from testing.processes import start_server

    server = start_server(REDIS_URL=on_own_redis.url)
    request.addfinalizer(server.proc.stop)
    worker = worker_factory(REDIS_URL=on_own_redis.url)
    cron = spawn(
        "runcron", [sys.executable, "manage.py", "runcron", "project.cron"], process_env(REDIS_URL=on_own_redis.url)
    )
    request.addfinalizer(lambda: cron.stop())
    alice = connect(world.token(world.alice), url=server.url)
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    job = enqueue_tracked(
        "jobs.tasks.demo_job", kind="demo", kwargs={"steps": 15, "step_seconds": 0.2}, project=world.apollo
    )
    # (the worker may still be starting: importing Django on a loaded 2-core machine takes seconds)
    alice.wait_for("agent_status", lambda d: d["job_id"] == str(job.pk) and d["status"] == "running", timeout=60)
    on_own_redis.restart(keep_data=False, down_seconds=2)
    # the worker rides out the outage (nobody restarts it) and the job, lost with Redis's data,
    # is enqueued again from its record and runs to the end
    alice.wait_for(
        "agent_status", lambda d: d["job_id"] == str(job.pk) and d["status"] in ("success", "error"), timeout=60
    )
    job.refresh_from_db()
    assert job.status == "success", (job.status, job.error)
    assert worker.popen.poll() is None, worker.log()


def test_a_quiet_room_gets_the_event_published_while_the_subscription_was_down(
    world, on_own_redis, connect, request, settings
):
    """The last event of a room, published while the server's pub/sub subscription reconnects,
    reaches the client without any later event: the server catches up after re-subscribing."""
    import redis

    from realtime.emit import emit
    from realtime.redis import sync_client
    from testing.processes import start_server

    server = start_server(REDIS_URL=on_own_redis.url)
    request.addfinalizer(server.proc.stop)
    alice = connect(world.token(world.alice), url=server.url)
    mine = user_room(world.alice.pk)
    for n in (1, 2):
        emit("test_event", {"n": n, "source": "stream"}, room=mine, on_commit=False)
    alice.wait_for("test_event", lambda d: d["n"] == 2)
    on_own_redis.restart(keep_data=True)
    sync_client().ping()  # this process's connection to the restarted Redis (redis-py retries)
    emit("test_event", {"n": 3, "source": "stream"}, room=mine, on_commit=False)
    # the server (python-socketio backs off >= 1 s) had not subscribed again when it was published
    subscribers = redis.Redis.from_url(on_own_redis.url).pubsub_numsub(settings.SOCKETIO_CHANNEL)[0][1]
    assert subscribers == 0, "the server re-subscribed before the event: nothing was tested"
    alice.wait_for("test_event", lambda d: d["n"] == 3, timeout=30)
    assert numbers(alice, mine) == [1, 2, 3]
    assert not alice.resyncs and alice.duplicates == 0


def test_a_client_whose_welcome_failed_is_disconnected_and_comes_back(world, on_own_redis, request):
    """Redis is down when a client connects: the server can't join its rooms. It must not stay
    connected with no rooms and no greeting: it is disconnected, retries, and is welcomed once
    Redis is back."""
    from realtime.client import RealtimeClient
    from testing.processes import start_server

    server = start_server(REDIS_URL=on_own_redis.url)
    request.addfinalizer(server.proc.stop)
    on_own_redis.stop()
    alice = RealtimeClient(server.url, token=world.token(world.alice))
    request.addfinalizer(alice.disconnect)
    alice.connect()
    alice.wait_until(lambda: alice.disconnects > 0, timeout=30, what="disconnected after the failed welcome")
    assert not alice.received("connected")
    on_own_redis.start()
    alice.wait_for("connected", timeout=30)
    assert alice.sio.connected
    assert "welcome failed, closing the connection" in server.proc.log_path.read_text()


def test_the_cron_scheduler_rides_out_redis_outages(own_redis, request):
    """rq's cron loop died on the first ConnectionError (at birth or in a tick), taking the
    reaper and the lost-job sweep with it: seen when Redis restarted while the cron started.
    Now it starts while Redis is down, and keeps enqueueing across a restart."""
    from testing.waits import wait_until

    redis = own_redis(persist=False)
    redis.stop()
    cron = spawn(
        "runcron",
        [sys.executable, "manage.py", "runcron", "project.cron"],
        process_env(REDIS_URL=redis.url, JOBS_REAP_INTERVAL_SECONDS="1"),
    )
    request.addfinalizer(lambda: cron.stop())
    log = cron.log_path.read_text
    wait_until(lambda: "Redis unreachable (birth" in log(), timeout=30, what="the cron noticing Redis is down")
    redis.start()
    wait_until(lambda: "cron enqueued reap_job" in log(), timeout=30, what="a cron job enqueued once Redis is up")
    redis.restart(keep_data=False, down_seconds=3)  # ticks fail while it is down (one a second)

    def since_first_enqueue() -> str:
        return log().split("cron enqueued reap_job", 1)[1]

    wait_until(lambda: "Redis unreachable (tick" in since_first_enqueue(), timeout=30, what="the outage seen")
    wait_until(
        lambda: (
            "cron enqueued reap_job" in since_first_enqueue().split("Redis reachable again", 1)[-1]
            and "Redis reachable again" in since_first_enqueue()
        ),
        timeout=30,
        what="enqueueing again after the outage",
    )
    assert cron.popen.poll() is None, cron.log()
    assert "Traceback" not in log(), log()[-3000:]
