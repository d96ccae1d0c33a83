"""POST /start-automation validates its input: 400 with a message, and nothing is created."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from automation.models import AutomationRun

pytestmark = pytest.mark.django_db


def post(client: Client, body) -> tuple[int, dict]:
    raw = body if isinstance(body, str) else json.dumps(body)
    response = client.post("/start-automation", raw, content_type="application/json")
    return response.status_code, response.json()


@pytest.fixture
def alice_client(world):
    client = Client()
    client.force_login(world.alice)
    return client


@pytest.mark.parametrize(
    ("tickers", "code", "words"),
    [
        ([], "no_tickers", "No tickers"),
        ("AAPL", "invalid_tickers", "must be a list"),
        ([f"T{i}" for i in range(26)], "too_many_tickers", "at most 25"),
        (["AAPL", "not a ticker!"], "invalid_ticker", "malformed ticker"),
        (["AAPL", 42], "invalid_ticker", "malformed ticker"),
        (["AAPL", ""], "invalid_ticker", "malformed ticker"),
        (["AAPL", {"x": 1}], "invalid_ticker", "malformed ticker 'dict'"),
        (["AAPL", "msft", "MSFT"], "duplicate_ticker", "MSFT is listed twice"),
        # ASCII before any case change (issue 21): upper() made SS, FF and I of these
        (["ß"], "invalid_ticker", "malformed ticker"),
        (["\ufb00"], "invalid_ticker", "malformed ticker"),  # the ff ligature
        (["\u0131"], "invalid_ticker", "malformed ticker"),  # dotless i
        (["AAPL", "stra\u00dfe"], "invalid_ticker", "malformed ticker"),
    ],
)
def test_it_refuses_bad_tickers(alice_client, profile, tickers, code, words):
    status, body = post(alice_client, {"tickers": tickers, "profile_id": profile.pk})
    assert status == 400
    assert body["code"] == code and words in body["error"]
    assert not AutomationRun.objects.exists()


@pytest.mark.parametrize("profile_id", [None, "abc", True, 999999, -1])
def test_it_refuses_an_unknown_profile(alice_client, profile, profile_id):
    status, body = post(alice_client, {"tickers": ["AAPL"], "profile_id": profile_id})
    assert status == 400 and body["code"] in ("unknown_profile", "invalid_profile")
    assert not AutomationRun.objects.exists()


def test_it_refuses_someone_elses_profile(world, profile):
    client = Client()
    client.force_login(world.bob)
    status, body = post(client, {"tickers": ["AAPL"], "profile_id": profile.pk})
    assert (status, body["code"]) == (400, "unknown_profile")


def test_it_refuses_bad_json_and_anonymous_callers(alice_client, profile):
    assert post(alice_client, "{not json")[0] == 400
    assert post(alice_client, "[1, 2]")[0] == 400
    status, body = post(alice_client, {"tickers": ["AAPL"], "profile_id": profile.pk, "step_seconds": 99})
    assert (status, body["code"]) == (400, "invalid_step_seconds")
    status, body = post(Client(), {"tickers": ["AAPL"], "profile_id": profile.pk})
    assert (status, body["code"]) == (401, "unauthenticated")


def test_it_starts_a_run_with_normalised_tickers(world, alice_client, profile):
    status, body = post(alice_client, {"tickers": [" aapl", "MSFT", "brk.b"], "profile_id": str(profile.pk)})
    assert status == 200, body
    assert body["status"] == "started" and "3 tickers" in body["message"]
    run = AutomationRun.objects.get(pk=body["automation_id"])
    assert run.owner == world.alice and run.status == "queued" and run.job_id
    assert run.tickers == ["AAPL", "MSFT", "BRK.B"]
    assert [s.ticker for s in run.ticker_states.order_by("position")] == ["AAPL", "MSFT", "BRK.B"]
