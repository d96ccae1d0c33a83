"""A tracked job's status transitions (queued -> running -> success/error) and progress are
reported from RQ's lifecycle by a real worker, to the project room, and stored."""

from __future__ import annotations

import pytest
import requests

from jobs.models import JobRecord

pytestmark = pytest.mark.django_db(transaction=True)


def start_demo(asgi_server, world, user, project, **body) -> str:
    r = requests.post(
        f"{asgi_server.url}/api/projects/{project.pk}/jobs/demo",
        json=body,
        headers={"Authorization": f"Bearer {world.token(user)}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def test_a_job_reports_its_lifecycle_to_the_project_room(world, connect, asgi_server, rq_worker):
    bob = connect(world.token(world.bob))
    charlie = connect(world.token(world.charlie))
    bob.call("subscribe_project", {"project_id": world.apollo.pk})
    job_id = start_demo(asgi_server, world, world.alice, world.apollo, steps=4, step_seconds=0.05)
    done = bob.wait_for("agent_status", lambda d: d["job_id"] == job_id and d["status"] == "success", timeout=30)
    statuses = [d["status"] for d in bob.received("agent_status") if d["job_id"] == job_id]
    assert statuses == ["queued", "running", "success"]
    assert done["result"] == {"steps": 4}
    progress = [d["progress"] for d in bob.received("agent_progress") if d["job_id"] == job_id]
    assert progress and progress[-1] == 100.0
    assert progress == sorted(progress)
    record = JobRecord.objects.get(pk=job_id)
    assert (record.status, record.progress, record.attempts) == ("success", 100.0, 1)
    seqs = [d["_meta"]["seq"] for d in bob.received() if isinstance(d, dict) and "_meta" in d]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert charlie.received("agent_status") == []


def test_a_failing_job_is_retried_then_reported_as_error(world, connect, asgi_server, rq_worker):
    from django.conf import settings

    alice = connect(world.token(world.alice))
    alice.call("subscribe_project", {"project_id": world.apollo.pk})
    job_id = start_demo(asgi_server, world, world.alice, world.apollo, steps=2, step_seconds=0, fail_at=1)
    final = alice.wait_for("agent_status", lambda d: d["job_id"] == job_id and d["status"] == "error", timeout=60)
    assert "demo failure at step 1" in final["error"]
    statuses = [d["status"] for d in alice.received("agent_status") if d["job_id"] == job_id]
    retries = settings.RQ_MAX_RETRIES
    assert statuses == ["queued"] + ["running", "queued"] * retries + ["running", "error"]
    assert JobRecord.objects.get(pk=job_id).attempts == retries + 1


def test_the_project_jobs_endpoint_is_for_members_only(world, asgi_server):
    url = f"{asgi_server.url}/api/projects/{world.apollo.pk}/jobs"
    ok = requests.get(url, headers={"Authorization": f"Bearer {world.token(world.bob)}"}, timeout=10)
    assert ok.status_code == 200 and ok.json()["jobs"] == []
    denied = requests.get(url, headers={"Authorization": f"Bearer {world.token(world.charlie)}"}, timeout=10)
    assert denied.status_code == 404
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401


def test_queued_is_published_before_the_job_can_start(world):
    """A worker can only start a job once it is pushed onto its RQ queue, so `queued` must be
    published (both rooms) before that push: watched on the real Redis with MONITOR, whose order
    is the order the server executed the commands in."""
    import threading

    import django_rq
    from rq.job import Job

    from jobs.services import enqueue_tracked

    redis = django_rq.get_connection("default")
    sentinel = f"lifecycle-sentinel-{world.apollo.pk}"
    commands: list[str] = []
    monitoring = threading.Event()

    def watch() -> None:
        with redis.monitor() as monitor:
            monitoring.set()
            for entry in monitor.listen():
                commands.append(entry["command"])
                if sentinel in entry["command"]:
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert monitoring.wait(10)
    redis.echo("monitor-started")  # MONITOR is active once this round trip is seen
    record = enqueue_tracked(
        "jobs.tasks.demo_job", kind="demo", project=world.apollo, user=world.alice, kwargs={"steps": 1}
    )
    redis.echo(sentinel)
    watcher.join(10)
    assert not watcher.is_alive(), "MONITOR never saw the sentinel"
    try:
        Job.fetch(str(record.pk), connection=redis).delete()
    except Exception:  # noqa: S110 (a worker already ran it)
        pass

    push = next(i for i, c in enumerate(commands) if "PUSH" in c.split(" ")[0].upper() and str(record.pk) in c)
    queued = [
        i
        for i, c in enumerate(commands)
        if c.startswith("PUBLISH ") and '"event":"agent_status"' in c and '"status":"queued"' in c
    ]
    assert len(queued) == 2, "\n".join(c[:300] for c in commands)  # the job room and the project room
    assert max(queued) < push, "\n".join(c[:200] for c in commands)
