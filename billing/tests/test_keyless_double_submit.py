"""A double submit from a client that sends no Idempotency-Key (seed 000's clients) moves money
once: an identical request inside BILLING_DEDUPE_WINDOW_SECONDS is the first one again (202 with
its key, nothing enqueued), so there is one job, one movement and one completion event."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests

from billing import dedupe, tasks
from billing.models import BankAccount, LiabilityOffset, Payment
from conftest import drain, wait_until
from notifications.models import Notification
from realtime.emit import user_room

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"amount": "25.00", "payee": "Shop"}


def payment_url(asgi_server, world) -> str:
    return f"{asgi_server.url}/api/bank/{world.alice.username}/make_payment"


def bearer(world) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.token(world.alice)}"}


def assert_paid_once(world, bank, alice, answers) -> None:
    assert [r.status_code for r in answers] == [202, 202], [r.text for r in answers]
    bodies = [r.json() for r in answers]
    assert len({b["idempotency_key"] for b in bodies}) == 1  # the same request, twice
    assert sorted(b["duplicate"] for b in bodies) == [False, True]  # only one was enqueued
    done = alice.wait_for("payment_complete", timeout=30)
    assert done["payload"]["replayed"] is False and done["payload"]["balance"] == "75.00"
    drain(alice, user_room(world.alice.pk))
    assert len(alice.received("payment_complete")) == 1
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("75.00")
    assert Payment.objects.filter(account=bank.account).count() == 1
    assert Notification.objects.filter(user=world.alice, title="Payment sent").count() == 1


def test_two_keyless_submits_pay_once(world, bank, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    answers = [requests.post(payment_url(asgi_server, world), json=BODY, headers=bearer(world), timeout=10)]
    alice.wait_for("payment_complete", timeout=30)  # the second comes after the first has finished
    answers.append(requests.post(payment_url(asgi_server, world), json=BODY, headers=bearer(world), timeout=10))
    assert_paid_once(world, bank, alice, answers)


def test_two_concurrent_keyless_submits_pay_once(world, bank, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    start = threading.Barrier(2)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def submit() -> None:
        start.wait(timeout=10)
        r = requests.post(payment_url(asgi_server, world), json=BODY, headers=bearer(world), timeout=10)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert_paid_once(world, bank, alice, answers)


def test_a_keyless_liability_update_twice_offsets_once(world, bank, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    url = f"{asgi_server.url}/api/balancesheet/{world.alice.username}/liability/update"
    body = {"liability_id": bank.car_loan.pk, "amount": "20.00"}
    answers = [requests.post(url, json=body, headers=bearer(world), timeout=10) for _ in range(2)]
    assert [r.json()["duplicate"] for r in answers] == [False, True]
    assert alice.wait_for("liabilities_offset_complete", timeout=30)["payload"]["outstanding"] == "30.00"
    drain(alice, user_room(world.alice.pk))
    assert len(alice.received("liabilities_offset_complete")) == 1
    assert LiabilityOffset.objects.count() == 1


@pytest.fixture
def enqueued(monkeypatch):
    """The view's enqueue calls, recorded instead of sent (no worker: nothing runs)."""
    calls: list[dict] = []
    monkeypatch.setattr(tasks, "enqueue", lambda func_path, *, kwargs: calls.append(kwargs))
    return calls


def test_an_explicit_key_wins_and_a_different_body_is_a_new_request(world, bank, client, enqueued):
    client.force_login(world.alice)
    url = f"/api/bank/{world.alice.username}/make_payment"
    first = client.post(url, BODY, content_type="application/json").json()
    assert client.post(url, {**BODY, "amount": "25"}, content_type="application/json").json()["duplicate"] is True
    other = client.post(url, {**BODY, "amount": "26.00"}, content_type="application/json").json()
    explicit = client.post(url, BODY, content_type="application/json", headers={"Idempotency-Key": "order-9"}).json()
    assert (other["duplicate"], explicit["duplicate"], explicit["idempotency_key"]) == (False, False, "order-9")
    assert [c["idempotency_key"] for c in enqueued] == [
        f"payment:{world.alice.pk}:{first['idempotency_key']}",
        f"payment:{world.alice.pk}:{other['idempotency_key']}",
        f"payment:{world.alice.pk}:order-9",
    ]


def test_a_request_that_was_not_enqueued_is_not_a_duplicate_later(world, bank, client, monkeypatch):
    client.force_login(world.alice)
    url = f"/api/bank/{world.alice.username}/make_payment"
    calls: list[dict] = []

    def enqueue(func_path, *, kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise tasks.EnqueueError("Redis is down")

    monkeypatch.setattr(tasks, "enqueue", enqueue)
    assert client.post(url, BODY, content_type="application/json").status_code == 503
    retry = client.post(url, BODY, content_type="application/json")
    assert retry.status_code == 202 and retry.json()["duplicate"] is False
    assert len(calls) == 2


def test_the_window_ends(world, settings):
    settings.BILLING_DEDUPE_WINDOW_SECONDS = 1
    body = {"amount": "1.00", "payee": "x", "description": ""}
    first = dedupe.claim(user_id=world.alice.pk, endpoint="billing.tasks.make_payment", body=body)
    again = dedupe.claim(user_id=world.alice.pk, endpoint="billing.tasks.make_payment", body=body)
    assert (first.duplicate, again.duplicate, again.client_key) == (False, True, first.client_key)
    assert not dedupe.claim(user_id=world.bob.pk, endpoint="billing.tasks.make_payment", body=body).duplicate
    connection = dedupe._connection()
    wait_until(lambda: not connection.exists(first.redis_key), timeout=10, what="the dedupe window's end")
    later = dedupe.claim(user_id=world.alice.pk, endpoint="billing.tasks.make_payment", body=body)
    assert later.duplicate is False and later.client_key != first.client_key


def test_a_window_of_zero_turns_it_off(world, settings):
    settings.BILLING_DEDUPE_WINDOW_SECONDS = 0
    claims = [dedupe.claim(user_id=world.alice.pk, endpoint="e", body={}) for _ in range(2)]
    assert [c.duplicate for c in claims] == [False, False] and claims[0].client_key != claims[1].client_key
