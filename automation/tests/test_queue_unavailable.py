"""When Redis is down, starting (or resuming) a run and starting provisioning answer 503
`queue_unavailable` (not a 500), and leave no row stuck "queued" with no job behind it."""

from __future__ import annotations

import django_rq
import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import realtime.redis
from automation.models import AutomationRun, ProvisioningJob
from tools.embedded_redis import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_down(monkeypatch):
    """Real Redis clients pointed at a port where nothing listens: RQ's and realtime's."""
    dead = Redis(port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(django_rq, "get_connection", lambda name="default": dead)
    monkeypatch.setattr(realtime.redis, "_sync", dead)


def test_start_automation_answers_503_and_fails_the_run(world, profile, redis_down, client):
    client.force_login(world.alice)
    r = client.post(
        "/start-automation", {"tickers": ["AAPL", "MSFT"], "profile_id": profile.pk}, content_type="application/json"
    )
    assert r.status_code == 503, r.content
    assert r.json()["code"] == "queue_unavailable"
    run = AutomationRun.objects.get(owner=world.alice)
    assert (run.status, run.stage) == ("failed", "error")
    assert "queue was unavailable" in run.message and run.finished_at
    assert set(run.ticker_states.values_list("status", flat=True)) == {"pending"}  # a retry runs them all


def test_resume_answers_503_and_fails_the_run(world, profile, redis_down, client):
    run = AutomationRun.objects.create(owner=world.alice, profile=profile, tickers=["AAPL"], status="paused")
    client.force_login(world.alice)
    r = client.post(f"/api/automation/{run.pk}/resume", {}, content_type="application/json")
    assert (r.status_code, r.json()["code"]) == (503, "queue_unavailable"), r.content
    run.refresh_from_db()
    assert run.status == "failed" and "queue was unavailable" in run.error


def test_provisioning_answers_503_and_does_not_block_the_next_attempt(world, redis_down, client):
    client.force_login(world.alice)
    r = client.post("/api/provisioning", {}, content_type="application/json")
    assert r.status_code == 503, r.content
    assert r.json()["code"] == "queue_unavailable"
    job = ProvisioningJob.objects.get(tenant=world.acme)
    assert job.status == "failed" and "queue was unavailable" in job.error
    # Not left "queued": a later attempt is not refused as "already provisioning".
    r = client.post("/api/provisioning", {}, content_type="application/json")
    assert r.status_code == 503 and r.json()["code"] == "queue_unavailable"
