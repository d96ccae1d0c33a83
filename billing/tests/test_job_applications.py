"""POST /api/jobs/apply: 202 at once; the job decides against the opening's requirements and
headcount, hires (employment record) or rejects, and ends with `job_application_complete`."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from billing import tasks
from billing.models import Employment, JobApplication, JobOpening
from conftest import drain
from realtime.emit import user_room

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def courier() -> JobOpening:
    return JobOpening.objects.create(
        title="Courier", employer="Speedy Parcels", salary=Decimal("1200.00"), required_skills=["driving"], headcount=1
    )


def apply(asgi_server, world, user, body) -> requests.Response:
    return requests.post(
        f"{asgi_server.url}/api/jobs/apply",
        json=body,
        headers={"Authorization": f"Bearer {world.token(user)}"},
        timeout=10,
    )


def test_it_hires_a_qualified_player(world, courier, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice), namespaces=["/", "/notifications"])
    bob = connect(world.token(world.bob))
    r = apply(asgi_server, world, world.alice, {"opening_id": courier.pk, "skills": ["driving", "chess"]})
    assert r.status_code == 202, r.text
    done = alice.wait_for("job_application_complete", timeout=30)
    assert done["username"] == world.alice.username
    assert done["payload"]["title"] == "Courier" and done["payload"]["salary"] == "1200.00"
    employment = Employment.objects.get(user=world.alice)
    assert employment.application_id == r.json()["application_id"] == done["payload"]["application_id"]
    assert alice.wait_for("notification:new", namespace="/notifications", timeout=10)["type"] == "job"
    drain(bob, user_room(world.bob.pk))
    assert bob.received("job_application_complete") == []


def test_it_rejects_with_the_reason(world, courier, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    apply(asgi_server, world, world.alice, {"opening_id": courier.pk, "skills": ["cooking"]})
    rejected = alice.wait_for("job_application_complete", timeout=30)
    assert rejected["success"] is False and rejected["error"] == "rejected"
    assert "driving" in rejected["message"]
    assert JobApplication.objects.get(user=world.alice).status == "rejected"


def test_it_hires_no_more_than_the_headcount(world, courier, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    bob = connect(world.token(world.bob))
    apply(asgi_server, world, world.alice, {"opening_id": courier.pk, "skills": ["driving"]})
    assert "payload" in alice.wait_for("job_application_complete", timeout=30)
    apply(asgi_server, world, world.bob, {"opening_id": courier.pk, "skills": ["driving"]})
    assert "no positions left" in bob.wait_for("job_application_complete", timeout=30)["message"]
    assert Employment.objects.filter(opening=courier).count() == 1


def test_deciding_twice_gives_the_first_answer(world, courier):
    application = JobApplication.objects.create(user=world.alice, opening=courier, skills=["driving"])
    first = tasks.decide_application(application_id=application.pk, user_id=world.alice.pk)
    second = tasks.decide_application(application_id=application.pk, user_id=world.alice.pk)
    assert first["payload"]["employment_id"] == second["payload"]["employment_id"]
    assert second["payload"]["replayed"] is True
    assert Employment.objects.count() == 1


def test_it_answers_bad_applications_with_4xx(world, courier, asgi_server):
    assert apply(asgi_server, world, world.alice, {"opening_id": 999999}).status_code == 404
    for body in (
        {},
        {"opening_id": "x"},
        {"opening_id": courier.pk, "skills": "driving"},
        {"opening_id": courier.pk, "experience_years": -1},
    ):
        r = apply(asgi_server, world, world.alice, body)
        assert r.status_code == 400 and r.json()["code"] == "invalid_input", body
    assert (
        requests.post(f"{asgi_server.url}/api/jobs/apply", json={"opening_id": courier.pk}, timeout=10).status_code
        == 401
    )
    assert not JobApplication.objects.exists()
