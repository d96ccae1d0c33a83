"""Provisioning a tenant (seed 004): status:update steps, then status:completed or status:failed,
to the tenant's room in /provisioning only. Started over HTTP (and from the admin: test_admin)."""

from __future__ import annotations

import pytest

from accounts.models import Profile, Tenant
from automation.models import ProvisioningJob

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
