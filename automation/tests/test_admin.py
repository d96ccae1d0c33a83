"""The admin for ops: runs, tickers, publications and provisioning jobs are searchable, and the
run actions (pause, resume, cancel, retry, resend final state) go through the services."""

from __future__ import annotations

import pytest
from django.test import Client

from automation import services
from automation.models import AutomationRun, ProvisioningJob
from automation.tests.helpers import assert_published_exactly_once, in_room, published_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(world):
    world.charlie.is_staff = world.charlie.is_superuser = True
    world.charlie.save()
    client = Client()
    client.force_login(world.charlie)
    return client


def action(ops, name: str, run) -> str:
    r = ops.post("/admin/automation/automationrun/", {"action": name, "_selected_action": [run.pk]}, follow=True)
    assert r.status_code == 200
    return r.content.decode()


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


@pytest.mark.django_db(transaction=True)
def test_an_admin_pause_stops_a_live_run_and_resume_finishes_it(world, ops, profile, connect, rq_worker):
    """End to end with a real worker: the admin's pause is read by the job at the next ticker
    boundary, the owner is told, and the admin's resume runs exactly the remaining tickers."""
    tickers = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
    alice = connect(world.token(world.alice))
    run = services.start_run(owner=world.alice, tickers=tickers, profile_id=profile.pk, step_seconds=0.25)
    room = f"run:{run.pk}"
    assert alice.call("subscribe", {"room": room})["ok"]
    alice.wait_for("automation_progress", published_event(room), timeout=30)

    assert "Pause requested: 1 run(s)" in action(ops, "pause_runs", run)
    paused = alice.wait_for("automation_paused", in_room(room), timeout=30)
    run.refresh_from_db()
    assert (run.status, run.requested) == ("paused", "")
    left = run.ticker_states.filter(status="pending").count()
    assert 0 < left < len(tickers) and f"{left} tickers remaining" in paused["message"]

    assert "Resumed: 1 run(s)" in action(ops, "resume_runs", run)
    assert alice.wait_for("automation_resumed", in_room(room), timeout=10)["remaining_count"] == left
    alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=60)
    run.refresh_from_db()
    assert run.status == "completed"
    assert_published_exactly_once(run)


@pytest.mark.django_db(transaction=True)
def test_resend_final_state_delivers_it_to_the_owner(world, ops, profile, connect, private_queue):
    alice = connect(world.token(world.alice))
    run = services.start_run(
        owner=world.alice, tickers=["AAPL", "NVDA"], profile_id=profile.pk, queue=private_queue.name
    )
    AutomationRun.objects.filter(pk=run.pk).update(
        status="completed", stage="complete", percent=100, message="Automation complete: 2 published, 0 failed"
    )
    run.ticker_states.update(status="published")
    action(ops, "resend_final_state", run)
    final = alice.wait_for(
        "automation_progress",
        lambda d: d["automation_id"] == run.pk and d["stage"] == "complete",
        timeout=10,
    )
    assert final["_meta"]["room"] == f"user:{world.alice.pk}"
    assert (final["percent"], final["message"]) == (100, "Automation complete: 2 published, 0 failed")
    assert (final["data"]["published"], final["data"]["total_tickers"]) == (2, 2)


@pytest.mark.django_db(transaction=True)
def test_it_starts_provisioning_from_the_admin(world, ops, connect, rq_worker):
    globex = connect(world.token(world.charlie), namespaces=["/provisioning"])  # charlie is in globex
    r = ops.post("/admin/automation/provisioningjob/add/", {"tenant": world.globex.pk}, follow=True)
    assert r.status_code == 200
    done = globex.wait_for("status:completed", namespace="/provisioning", timeout=30)
    assert done == {
        "tenant_id": world.globex.pk,
        "erpnext_url": f"https://{world.globex.slug}.erp.example.com",
        "_meta": done["_meta"],
    }
    assert done["_meta"]["room"] == f"tenant:{world.globex.pk}"
    job = ProvisioningJob.objects.get(tenant=world.globex)
    assert (job.status, job.progress, job.requested_by) == ("completed", 100, world.charlie)


@pytest.fixture
def viewer(world):
    """Staff who may look at runs and provisioning jobs, not act on them."""
    from django.contrib.auth.models import Permission

    world.bob.is_staff = True
    world.bob.save(update_fields=["is_staff"])
    world.bob.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_automationrun", "view_provisioningjob"])
    )
    client = Client()
    client.force_login(world.bob)
    return client


@pytest.mark.parametrize("name", ["pause_runs", "resume_runs", "cancel_runs", "retry_runs", "resend_final_state"])
def test_view_only_staff_cannot_control_runs(world, viewer, profile, name):
    run = services.start_run(owner=world.alice, tickers=["AAPL"], profile_id=profile.pk)
    AutomationRun.objects.filter(pk=run.pk).update(status="paused")
    page = viewer.get("/admin/automation/automationrun/")
    assert page.status_code == 200 and f'value="{name}"' not in page.content.decode()
    r = viewer.post("/admin/automation/automationrun/", {"action": name, "_selected_action": [run.pk]}, follow=True)
    assert r.status_code == 200
    run.refresh_from_db()
    assert (run.status, run.requested) == ("paused", "")


def test_view_only_staff_cannot_provision(world, viewer):
    job = ProvisioningJob.objects.create(tenant=world.globex, status="failed")
    r = viewer.post(
        "/admin/automation/provisioningjob/", {"action": "provision_again", "_selected_action": [job.pk]}, follow=True
    )
    assert r.status_code == 200
    assert ProvisioningJob.objects.filter(tenant=world.globex).count() == 1
    assert viewer.post("/admin/automation/provisioningjob/add/", {"tenant": world.globex.pk}).status_code == 403
