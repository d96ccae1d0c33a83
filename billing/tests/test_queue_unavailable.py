"""When Redis can't take the job, the endpoints answer 503 with a JSON message (not a 500) and
leave nothing half-done behind."""

from __future__ import annotations

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.serializers import JSONSerializer

from billing import tasks
from billing.models import JobApplication, JobOpening
from tools.embedded_redis import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dead_queue(monkeypatch):
    """A real Redis client pointed at a port where nothing listens."""
    dead = Redis(port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(
        tasks.django_rq, "get_queue", lambda name: Queue(name, connection=dead, serializer=JSONSerializer)
    )


def test_it_answers_503_when_the_queue_is_down(world, bank, dead_queue, client):
    client.force_login(world.alice)
    opening = JobOpening.objects.create(title="Courier", employer="S", salary="1.00")
    calls = [
        (f"/api/bank/{world.alice.username}/make_payment", {"amount": "1.00", "payee": "x"}),
        (f"/api/balancesheet/{world.alice.username}/liability/update", {"liability_id": bank.car_loan.pk}),
        ("/api/jobs/apply", {"opening_id": opening.pk}),
    ]
    for url, body in calls:
        r = client.post(url, body, content_type="application/json")
        assert r.status_code == 503, (url, r.content)
        assert r.json()["code"] == "queue_unavailable"
    assert not JobApplication.objects.exists()
