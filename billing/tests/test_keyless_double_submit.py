"""A double submit from a client that sends no Idempotency-Key (seed 000's clients) moves money
once: an identical request inside BILLING_DEDUPE_WINDOW_SECONDS gets the first one's idempotency
key, so its job moves nothing and answers again (`replayed: true`): one movement, every request
answered, as with an explicit key."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.serializers import JSONSerializer

from billing import dedupe, tasks
from billing.models import BankAccount, LiabilityOffset, Payment
from notifications.models import Notification
from realtime.emit import user_room
from testing.waits import drain, wait_until
from tools.embedded_redis import free_port

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
    assert sorted(b["duplicate"] for b in bodies) == [False, True]
    alice.wait_for("payment_complete", count=2, timeout=30)
    drain(alice, user_room(world.alice.pk))
    done = alice.received("payment_complete")
    assert sorted(d["payload"]["replayed"] for d in done) == [False, True], done  # answered twice, paid once
    assert {d["payload"]["payment_id"] for d in done} == {done[0]["payload"]["payment_id"]}
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
    alice.wait_for("liabilities_offset_complete", count=2, timeout=30)
    drain(alice, user_room(world.alice.pk))
    done = alice.received("liabilities_offset_complete")
    assert [d["payload"]["outstanding"] for d in done] == ["30.00", "30.00"]  # offset once, answered twice
    assert LiabilityOffset.objects.count() == 1


def test_an_explicit_key_wins_and_a_different_body_is_a_new_request(world, bank, client, connect, rq_worker):
    alice = connect(world.token(world.alice))
    client.force_login(world.alice)
    url = f"/api/bank/{world.alice.username}/make_payment"
    first = client.post(url, BODY, content_type="application/json").json()
    assert client.post(url, {**BODY, "amount": "25"}, content_type="application/json").json()["duplicate"] is True
    other = client.post(url, {**BODY, "amount": "26.00"}, content_type="application/json").json()
    explicit = client.post(url, BODY, content_type="application/json", headers={"Idempotency-Key": "order-9"}).json()
    assert (other["duplicate"], explicit["duplicate"], explicit["idempotency_key"]) == (False, False, "order-9")
    alice.wait_for("payment_complete", count=4, timeout=60)
    paid = Payment.objects.filter(account=bank.account).order_by("pk")
    assert sorted(p.idempotency_key for p in paid) == sorted(
        f"payment:{world.alice.pk}:{key}" for key in (first["idempotency_key"], other["idempotency_key"], "order-9")
    )
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("24.00")  # 100 - 25 - 26 - 25


def test_a_request_refused_with_503_can_be_sent_again(world, bank, client, connect, rq_worker, monkeypatch):
    """Redis down: 503 and nothing done; the client's retry (Redis back) pays, and is answered."""
    alice = connect(world.token(world.alice))
    client.force_login(world.alice)
    url = f"/api/bank/{world.alice.username}/make_payment"
    dead = Redis(port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    with monkeypatch.context() as patch:
        patch.setattr(
            tasks.django_rq, "get_queue", lambda name: Queue(name, connection=dead, serializer=JSONSerializer)
        )
        refused = client.post(url, BODY, content_type="application/json")
    assert refused.status_code == 503 and refused.json()["code"] == "queue_unavailable"
    retry = client.post(url, BODY, content_type="application/json")
    assert retry.status_code == 202, retry.content
    assert alice.wait_for("payment_complete", timeout=30)["payload"]["replayed"] is False
    assert Payment.objects.filter(account=bank.account).count() == 1


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
