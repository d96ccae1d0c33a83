"""Provisioning a tenant (seed 004): status:update steps, then status:completed or status:failed,
to the tenant's room in /provisioning only. Started over HTTP (and from the admin: test_admin).
A job that fails with no retry left tells its tenant, and only it."""

from __future__ import annotations

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from accounts.models import Profile, Tenant
from automation import provisioning
from automation.models import ProvisioningJob
from realtime.emit import emit, tenant_room
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
NS = "/provisioning"


def test_it_provisions_the_callers_tenant_and_tells_only_that_tenant(world, api, connect, rq_worker):
    alice = connect(world.token(world.alice), namespaces=[NS])
    charlie = connect(world.token(world.charlie), namespaces=[NS])
    http = api(world.alice)
    r = http.post(f"{http.base}/api/provisioning", json={}, timeout=10)
    assert r.status_code == 202, r.text
    job_id = r.json()["provisioning_id"]

    done = alice.wait_for("status:completed", namespace=NS, timeout=30)
    assert done["tenant_id"] == world.acme.pk
    assert done["erpnext_url"] == f"https://{world.acme.slug}.erp.example.com"
    updates = alice.received("status:update", namespace=NS)
    assert [u["progress"] for u in updates] == sorted(u["progress"] for u in updates)
    assert updates[-1]["progress"] == 100 and all(u["tenant_id"] == world.acme.pk for u in updates)
    assert {u["_meta"]["room"] for u in updates} == {f"tenant:{world.acme.pk}"}
    job = ProvisioningJob.objects.get(pk=job_id)
    assert (job.status, job.progress, job.step) == ("completed", 100, "activate")
    assert http.get(f"{http.base}/api/provisioning/{job_id}", timeout=10).json()["status"] == "completed"
    assert charlie.received("status:update", namespace=NS) == []
    # Another tenant's job is not visible, and a tenant that is not yours cannot be provisioned.
    other = api(world.charlie)
    assert other.get(f"{other.base}/api/provisioning/{job_id}", timeout=10).status_code == 404
    r = other.post(f"{other.base}/api/provisioning", json={"tenant_id": world.acme.pk}, timeout=10)
    assert r.status_code == 404
    r = other.post(f"{other.base}/api/provisioning", json={"tenant_id": "x"}, timeout=10)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_tenant")


def test_it_reports_a_failed_provisioning(world, api, connect, rq_worker):
    bad = Tenant.objects.create(name="Bad Slug Ltd", slug="bad_slug")
    Profile.objects.filter(user=world.bob).update(tenant=bad)
    world.bob.refresh_from_db()
    world.bob.profile.refresh_from_db()  # the JWT carries the tenant
    bob = connect(world.token(world.bob), namespaces=[NS])
    http = api(world.bob)
    r = http.post(f"{http.base}/api/provisioning", json={}, timeout=10)
    assert r.status_code == 202, r.text
    failed = bob.wait_for("status:failed", namespace=NS, timeout=30)
    assert failed["tenant_id"] == bad.pk and "not a valid DNS label" in failed["error"]
    job = ProvisioningJob.objects.get(pk=r.json()["provisioning_id"])
    assert job.status == "failed" and "bad_slug" in job.error
    assert bob.received("status:completed", namespace=NS) == []


def settle(client, tenant_id: int) -> None:
    """Everything sent to the tenant's room so far has reached `client`: a marker sent now comes after it."""
    emit("test_event", {"n": 4243}, room=tenant_room(tenant_id), namespace=NS)
    client.wait_for("test_event", lambda d: d["n"] == 4243, namespace=NS, timeout=10)


def test_a_job_that_fails_with_no_retry_left_tells_only_its_tenant(world, connect, private_queue, private_worker):
    """The job's pace is out of range (an infinite sleep), so the job raises on every attempt:
    RQ retries it once, then the failure callback, with no retry left, fails the job and sends
    status:failed to the tenant's room, once, and to no other tenant."""
    alice = connect(world.token(world.alice), namespaces=[NS])  # acme
    charlie = connect(world.token(world.charlie), namespaces=[NS])  # globex
    job = provisioning.start(by=world.alice, step_seconds=float("inf"), queue=private_queue.name)
    alice.wait_for("status:update", lambda d: d["status"] == "queued", namespace=NS, timeout=10)
    private_worker(private_queue, RQ_WITH_SCHEDULER="0")

    failed = alice.wait_for("status:failed", namespace=NS, timeout=30)
    assert failed["tenant_id"] == world.acme.pk
    assert failed["error"] == "provisioning stopped unexpectedly (OverflowError)"
    assert failed["_meta"]["room"] == f"tenant:{world.acme.pk}"
    rq_job = Job.fetch(f"provisioning-{job.pk}", connection=private_queue.connection, serializer=JSONSerializer)
    wait_until(lambda: rq_job.get_status(refresh=True) == "failed", timeout=10, what="RQ marking the job failed")
    assert rq_job.retries_left == 0  # the retry was used first
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", failed["error"]) and job.finished_at

    settle(alice, world.acme.pk)
    settle(charlie, world.globex.pk)
    assert len(alice.received("status:failed", namespace=NS)) == 1
    assert alice.received("status:completed", namespace=NS) == []
    assert charlie.received("status:failed", namespace=NS) == []
    assert charlie.received("status:update", namespace=NS) == []
