"""A Redis outage never makes an API endpoint answer an HTML 500 or log a traceback (issue 18):
every JSON endpoint (the URLconf sweep), called by a signed-in user while Redis is unreachable,
answers JSON; a 503 carries Retry-After. A change that commits answers its success: its event is
deferred to the outbox."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from django.test import Client, RequestFactory

from accounts.http import api_view
from accounts.tests.endpoints import json_endpoints
from jobs.models import JobRecord
from notifications.models import Notification
from realtime.models import OutboxEvent
from realtime.redis import sync_client
from testing import redis_clients
from tools.embedded_redis import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_down(settings):
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = url
    queues = copy.deepcopy(settings.RQ_QUEUES)
    for queue in queues.values():
        queue["URL"] = url
    settings.RQ_QUEUES = queues
    with redis_clients.fresh():
        yield


@pytest.fixture
def no_tracebacks(caplog):
    caplog.set_level(logging.INFO)
    yield
    bad = [r for r in caplog.records if r.exc_info]
    assert not bad, [(r.name, r.getMessage()) for r in bad]


def test_no_endpoint_answers_an_html_500_while_redis_is_down(world, redis_down, no_tracebacks):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {world.token(world.alice)}")
    note = Notification.objects.create(user=world.alice, title="t", message="m")
    values = {"project_id": world.apollo.pk, "username": world.alice.username, "notification_id": note.pk}
    answers = []
    for endpoint in json_endpoints():
        for method in endpoint.methods:
            response = client.generic(method, endpoint.path(**values), "{}", content_type="application/json")
            answers.append((method, endpoint.route, response.status_code))
            assert response["Content-Type"] == "application/json", (endpoint.route, response.content[:200])
            assert response.status_code != 500, (endpoint.route, response.content[:300])
            if response.status_code == 503:
                assert response["Retry-After"].isdigit(), endpoint.route
                assert response.json()["code"], endpoint.route
    read = [a for a in answers if a[1] == "api/notifications/<int:notification_id>/read"]
    assert read == [("POST", "api/notifications/<int:notification_id>/read", 200)]  # committed: success
    assert OutboxEvent.objects.filter(event="notification_read_confirmed", deferred=True).exists()


def test_a_job_started_while_redis_is_down_is_committed_and_answered_202(world, redis_down):
    """The record commits and its `queued` event goes to the outbox; the enqueue after the commit
    fails and is left to the lost-job sweep (jobs/reaper.py): the request is not failed for it."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {world.token(world.alice)}")
    response = client.post(f"/api/projects/{world.apollo.pk}/jobs/demo", {"steps": 1}, content_type="application/json")
    assert response.status_code == 202, response.content
    assert JobRecord.objects.get(pk=response.json()["job_id"]).status == "queued"
    assert OutboxEvent.objects.filter(event="agent_status", deferred=True).count() == 2  # job and project rooms


@api_view(("POST",))
def needs_redis_first(request):
    sync_client().incr("api-calls")  # Redis before any change: nothing was done
    raise AssertionError("not reached while Redis is down")


def test_an_outage_before_the_commit_answers_503_json_with_retry_after(world, redis_down):
    request = RequestFactory().post("/api/x", "{}", content_type="application/json")
    request.META["HTTP_AUTHORIZATION"] = f"Bearer {world.token(world.alice)}"
    answer = needs_redis_first(request)
    assert (answer.status_code, answer["Retry-After"], answer["Content-Type"]) == (503, "5", "application/json")
    assert json.loads(answer.content)["code"] == "unavailable"
