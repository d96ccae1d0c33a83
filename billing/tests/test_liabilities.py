"""POST /api/balancesheet/<username>/liability/update: 202, then `liabilities_offset_complete`
to the player's room; an offset larger than the debt or the balance is refused and changes
nothing; only the player's own liabilities."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from billing.models import BalanceSheet, BankAccount, Liability, LiabilityOffset
from realtime.emit import user_room
from testing.waits import drain

pytestmark = pytest.mark.django_db(transaction=True)


def update(asgi_server, world, user, username: str, body) -> requests.Response:
    return requests.post(
        f"{asgi_server.url}/api/balancesheet/{username}/liability/update",
        json=body,
        headers={"Authorization": f"Bearer {world.token(user)}"},
        timeout=10,
    )


def test_it_offsets_a_liability_from_the_account(world, bank, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    bob = connect(world.token(world.bob))
    r = update(
        asgi_server, world, world.alice, world.alice.username, {"liability_id": bank.car_loan.pk, "amount": "20"}
    )
    assert r.status_code == 202, r.text
    done = alice.wait_for("liabilities_offset_complete", timeout=30)
    assert done["payload"]["outstanding"] == "30.00"
    assert done["payload"]["balance"] == "80.00"
    bank.car_loan.refresh_from_db()
    assert bank.car_loan.outstanding == Decimal("30.00")
    drain(bob, user_room(world.bob.pk))
    assert bob.received("liabilities_offset_complete") == []


def test_it_offsets_everything_outstanding_without_an_amount(world, bank, connect, asgi_server, rq_worker):
    alice = connect(world.token(world.alice))
    update(asgi_server, world, world.alice, world.alice.username, {"liability_id": bank.car_loan.pk})
    done = alice.wait_for("liabilities_offset_complete", timeout=30)
    assert (done["payload"]["amount"], done["payload"]["outstanding"]) == ("50.00", "0.00")


@pytest.mark.parametrize(
    "amount, balance, error",
    [("50.01", "100.00", "exceeds_outstanding"), ("40.00", "39.99", "insufficient_funds")],
)
def test_it_refuses_an_offset_it_cannot_make(world, bank, connect, asgi_server, rq_worker, amount, balance, error):
    BankAccount.objects.filter(pk=bank.account.pk).update(balance=Decimal(balance))
    alice = connect(world.token(world.alice))
    update(asgi_server, world, world.alice, world.alice.username, {"liability_id": bank.car_loan.pk, "amount": amount})
    refused = alice.wait_for("liabilities_offset_complete", timeout=30)
    assert refused["success"] is False and refused["error"] == error
    assert refused["username"] == world.alice.username
    bank.car_loan.refresh_from_db()
    assert bank.car_loan.outstanding == Decimal("50.00")
    assert BankAccount.objects.get(pk=bank.account.pk).balance == Decimal(balance)
    # The refusal is recorded under its idempotency key (a rerun gives the same answer); nothing moved.
    assert list(LiabilityOffset.objects.values_list("status", "refusal_code")) == [("refused", error)]


def test_it_keeps_players_to_their_own_balance_sheet(world, bank, asgi_server):
    r = update(asgi_server, world, world.bob, world.alice.username, {"liability_id": bank.car_loan.pk})
    assert r.status_code == 403
    bob_sheet = BalanceSheet.objects.create(user=world.bob)
    Liability.objects.create(balance_sheet=bob_sheet, name="Loan", outstanding=Decimal("5"))
    r = update(asgi_server, world, world.bob, world.bob.username, {"liability_id": bank.car_loan.pk})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    too_long = {"liability_id": 10**19}  # more digits than an id has: malformed (400), like every other id field
    for body in ({}, {"liability_id": "1"}, too_long, {"liability_id": bank.car_loan.pk, "amount": "-1"}):
        r = update(asgi_server, world, world.alice, world.alice.username, body)
        assert r.status_code == 400, body
