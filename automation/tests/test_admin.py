"""The admin for ops: runs, tickers, publications and provisioning jobs are searchable, and the
run actions (pause, resume, cancel, retry, resend final state) go through the services."""

from __future__ import annotations

import pytest
from django.test import Client

from automation import services
from automation.models import AutomationRun, ProvisioningJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(world):
    world.charlie.is_staff = world.charlie.is_superuser = True
    world.charlie.save()
    client = Client()
    client.force_login(world.charlie)
    return client


def action(ops, name: str, run) -> None:
    r = ops.post("/admin/automation/automationrun/", {"action": name, "_selected_action": [run.pk]}, follow=True)
    assert r.status_code == 200


def test_it_lists_and_searches(world, ops, profile):
    run = services.start_run(owner=world.alice, tickers=["AAPL", "NVDA"], profile_id=profile.pk)
    for url in (
        "/admin/automation/automationrun/?q=NVDA",
        "/admin/automation/tickerstate/?q=NVDA",
        "/admin/automation/publication/",
        "/admin/automation/provisioningjob/",
        "/admin/jobs/jobrecord/",
        f"/admin/automation/automationrun/{run.pk}/change/",
    ):
        r = ops.get(url)
        assert r.status_code == 200, url
    assert (
        f"/admin/automation/automationrun/{run.pk}/change/"
        in ops.get("/admin/automation/automationrun/?q=NVDA").content.decode()
    )
    assert ops.get("/admin/automation/automationrun/?q=TSLA").content.decode().count("/change/") == 0


def test_its_actions_control_runs(world, ops, profile):
    run = services.start_run(owner=world.alice, tickers=["AAPL", "NVDA"], profile_id=profile.pk)
    action(ops, "pause_runs", run)
    assert AutomationRun.objects.get(pk=run.pk).requested == "pause"
    action(ops, "cancel_runs", run)
    assert AutomationRun.objects.get(pk=run.pk).requested == "cancel"
    AutomationRun.objects.filter(pk=run.pk).update(status="paused", requested="")
    action(ops, "resume_runs", run)
    assert AutomationRun.objects.get(pk=run.pk).status == "queued"
    AutomationRun.objects.filter(pk=run.pk).update(status="completed")
    run.ticker_states.update(status="failed")
    action(ops, "retry_runs", run)
    run.refresh_from_db()
    assert run.status == "queued" and set(run.ticker_states.values_list("status", flat=True)) == {"pending"}
    AutomationRun.objects.filter(pk=run.pk).update(status="cancelled")
    action(ops, "resend_final_state", run)
    r = ops.post(
        "/admin/automation/automationrun/", {"action": "resume_runs", "_selected_action": [run.pk]}, follow=True
    )
    assert "only a paused run can resume" in r.content.decode()


def test_it_starts_provisioning_from_the_admin(world, ops):
    r = ops.post("/admin/automation/provisioningjob/add/", {"tenant": world.globex.pk}, follow=True)
    assert r.status_code == 200
    job = ProvisioningJob.objects.get(tenant=world.globex)
    assert job.status == "queued" and job.requested_by == world.charlie
