"""POST /api/bank/<username>/make_payment: 202 at once, then `payment_complete` to the player's
room only; an overdraft is refused with an error event and changes nothing; a player can only
pay from their own account."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from billing.models import BankAccount, Payment
from notifications.models import Notification
from realtime.emit import user_room
from testing.waits import drain

pytestmark = pytest.mark.django_db(transaction=True)


def pay(asgi_server, world, user, username: str, body, **headers) -> requests.Response:
    return requests.post(
        f"{asgi_server.url}/api/bank/{username}/make_payment",
        json=body,
        headers={"Authorization": f"Bearer {world.token(user)}", **headers},
        timeout=10,
    )


def test_it_pays_and_reports_to_the_players_room_only(world, bank, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice), namespaces=["/", "/notifications"])
    bob = connect(world.token(world.bob))
    r = pay(asgi_server, world, world.alice, world.alice.username, {"amount": "30.25", "payee": "Harbour Diner"})
    assert r.status_code == 202, r.text
    done = alice.wait_for("payment_complete", timeout=30)
    assert done["username"] == world.alice.username
    assert done["payload"]["amount"] == "30.25"
    assert done["payload"]["balance"] == "69.75"
    assert done["_meta"]["room"] == f"user:{world.alice.pk}"
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("69.75")
    note = alice.wait_for("notification:new", namespace="/notifications", timeout=10)
    assert note["title"] == "Payment sent" and note["type"] == "billing"
    drain(bob, user_room(world.bob.pk))
    assert bob.received("payment_complete") == []


def test_it_refuses_an_overdraft_and_changes_nothing(world, bank, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    r = pay(asgi_server, world, world.alice, world.alice.username, {"amount": "100.01", "payee": "Car dealer"})
    assert r.status_code == 202, r.text
    refused = alice.wait_for("payment_complete", timeout=30)
    assert refused["success"] is False
    assert refused["error"] == "insufficient_funds"
    assert "Insufficient funds" in refused["message"]
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal("100.00")
    assert Payment.objects.get(account=bank.account).status == "refused"
    assert not Notification.objects.filter(user=world.alice).exists()


def test_it_forbids_paying_from_someone_elses_account(world, bank, asgi_server):
    r = pay(asgi_server, world, world.bob, world.alice.username, {"amount": "1.00", "payee": "Bob"})
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    r = pay(asgi_server, world, world.charlie, world.alice.username, {"amount": "1.00", "payee": "Charlie"})
    assert r.status_code == 403
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    "body, code",
    [
        ({"amount": "abc", "payee": "x"}, "invalid_amount"),
        ({"amount": "-5", "payee": "x"}, "invalid_amount"),
        ({"amount": "0", "payee": "x"}, "invalid_amount"),
        ({"amount": "1.001", "payee": "x"}, "invalid_amount"),
        ({"amount": True, "payee": "x"}, "invalid_amount"),
        ({"amount": "NaN", "payee": "x"}, "invalid_amount"),
        # plain ASCII decimals only (issue 21): Decimal() took all of these
        ({"amount": "1_000", "payee": "x"}, "invalid_amount"),
        ({"amount": "\u0661\u0660\u0660", "payee": "x"}, "invalid_amount"),  # Arabic-Indic 100
        ({"amount": "\uff11\uff12", "payee": "x"}, "invalid_amount"),  # fullwidth 12
        ({"amount": "1e2", "payee": "x"}, "invalid_amount"),
        ({"amount": "Infinity", "payee": "x"}, "invalid_amount"),
        # NUL and other control characters (PostgreSQL text cannot hold NUL)
        ({"amount": "5", "payee": "Bob\x00"}, "invalid_text"),
        ({"amount": "5", "payee": "Bob\x07"}, "invalid_text"),
        ({"amount": "5", "payee": "Bob\nEve"}, "invalid_text"),
        ({"amount": "5", "payee": "x", "description": "rent\x00"}, "invalid_text"),
        ({"amount": "5", "payee": "x", "description": "rent\x1b[31m"}, "invalid_text"),
        ({"amount": "5", "payee": "x", "description": "\ud800"}, "invalid_text"),
        ({"amount": "5", "payee": "x", "note\x00": "x"}, "invalid_text"),
        ({"amount": "5"}, "invalid_input"),
        ({"amount": "5", "payee": "x" * 101}, "invalid_input"),
        ({"amount": "5", "payee": "x", "idempotency_key": "has spaces"}, "invalid_input"),
    ],
)
def test_it_answers_bad_input_with_a_400(world, bank, asgi_server, body, code):
    r = pay(asgi_server, world, world.alice, world.alice.username, body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == code


def test_it_answers_not_json_without_an_account_and_anonymous(world, asgi_server):
    url = f"{asgi_server.url}/api/bank/{world.alice.username}/make_payment"
    auth = {"Authorization": f"Bearer {world.token(world.alice)}"}
    as_json = {**auth, "Content-Type": "application/json"}
    assert requests.post(url, data="{not json", headers=as_json, timeout=10).status_code == 400
    no_account = requests.post(url, json={"amount": "1", "payee": "x"}, headers=auth, timeout=10)
    assert no_account.status_code == 404 and no_account.json()["code"] == "not_found"
    assert requests.post(url, json={"amount": "1", "payee": "x"}, timeout=10).status_code == 401
    assert requests.get(url, headers=auth, timeout=10).status_code == 405


def test_the_account_endpoint_shows_the_balance_to_its_owner_only(world, bank, asgi_server):
    url = f"{asgi_server.url}/api/bank/{world.alice.username}"
    mine = requests.get(url, headers={"Authorization": f"Bearer {world.token(world.alice)}"}, timeout=10)
    assert mine.status_code == 200 and mine.json()["balance"] == "100.00"
    theirs = requests.get(url, headers={"Authorization": f"Bearer {world.token(world.bob)}"}, timeout=10)
    assert theirs.status_code == 403


def test_a_seed_000_client_joins_its_own_name_only(world, bank, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    bob = connect(world.token(world.bob))
    assert alice.call("join_room", {"room": world.alice.username}) == {"ok": True, "room": f"user:{world.alice.pk}"}
    refused = bob.call("join_room", {"room": world.alice.username})
    assert refused["ok"] is False and refused["code"] == "forbidden"
    pay(asgi_server, world, world.alice, world.alice.username, {"amount": "1.00", "payee": "x"})
    assert alice.wait_for("payment_complete", timeout=30)["username"] == world.alice.username
    drain(bob, user_room(world.bob.pk))
    assert bob.received("payment_complete") == []
