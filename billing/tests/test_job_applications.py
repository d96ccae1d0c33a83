"""POST /api/jobs/apply: 202 at once; the job decides against the opening's requirements and
headcount, hires (employment record) or rejects, and ends with `job_application_complete`."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests

from billing import tasks
from billing.models import Employment, JobApplication, JobOpening
from realtime.emit import user_room
from testing.waits import drain

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
        {"opening_id": 10**19},  # more digits than an id has: malformed (400), like every other id field
        {"opening_id": courier.pk, "skills": "driving"},
        {"opening_id": courier.pk, "experience_years": -1},
    ):
        r = apply(asgi_server, world, world.alice, body)
        assert r.status_code == 400 and r.json()["code"] == "invalid_input", body
    for skill in ("driv\x00ing", "driving\n", "\x7f", "\udfff"):  # PostgreSQL refused the NUL: a 500
        r = apply(asgi_server, world, world.alice, {"opening_id": courier.pk, "skills": [skill]})
        assert r.status_code == 400 and r.json()["code"] == "invalid_text", (skill, r.text)
    assert (
        requests.post(f"{asgi_server.url}/api/jobs/apply", json={"opening_id": courier.pk}, timeout=10).status_code
        == 401
    )
    assert not JobApplication.objects.exists()


def test_a_keyless_double_submit_is_one_application_answered_twice(world, courier, connect, asgi_server, rq_worker):
    """A double click on "apply" (no Idempotency-Key: seed 000's clients) made two applications,
    and the second was rejected ("already works as") after the first was hired. An identical
    request inside BILLING_DEDUPE_WINDOW_SECONDS is now the first one again."""
    alice = connect(world.token(world.alice))
    body = {"opening_id": courier.pk, "skills": ["driving"]}
    start = threading.Barrier(2)
    answers: list[requests.Response] = []

    def submit() -> None:
        start.wait(timeout=10)
        answers.append(apply(asgi_server, world, world.alice, body))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert [r.status_code for r in answers] == [202, 202], [r.text for r in answers]
    assert len({r.json()["application_id"] for r in answers}) == 1
    assert sorted(r.json()["duplicate"] for r in answers) == [False, True]
    alice.wait_for("job_application_complete", count=2, timeout=30)
    drain(alice, user_room(world.alice.pk))
    done = alice.received("job_application_complete")
    assert ["payload" in d for d in done] == [True, True], done  # hired, and told so twice (success shape)
    assert sorted(d["payload"]["replayed"] for d in done) == [False, True]
    assert JobApplication.objects.filter(user=world.alice).count() == 1
    assert Employment.objects.filter(user=world.alice).count() == 1


def test_an_explicit_key_is_one_application_and_cannot_be_reused_for_another(world, courier, asgi_server):
    body = {"opening_id": courier.pk, "skills": ["driving"], "idempotency_key": "apply-1"}
    first = apply(asgi_server, world, world.alice, body)
    again = apply(asgi_server, world, world.alice, body)
    assert (first.status_code, again.status_code) == (202, 202), (first.text, again.text)
    assert first.json()["application_id"] == again.json()["application_id"]
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    other = apply(asgi_server, world, world.alice, {**body, "skills": ["chess"]})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict", other.text
    # another user's key is their own
    assert apply(asgi_server, world, world.bob, body).json()["application_id"] != first.json()["application_id"]
    assert JobApplication.objects.count() == 2
