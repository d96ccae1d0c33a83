"""Seed 003 (automation portal): the run page's JavaScript as written, run once under Node with
the page's session: it starts a run (refused without the CSRF header, then with it), pauses it
at the first publish, resumes it, and follows it to the end, updating its ticker cards.
Expectations: tests/seeds/expectations.py."""

from __future__ import annotations

import secrets
from datetime import datetime

import pytest

from testing import BASE_DIR
from testing.node import run_node
from testing.sessions import session_key

pytestmark = pytest.mark.django_db  # the data is the package's (conftest.py); tests only read

TICKERS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM"]
NO_PRICES = "ZZZZ"  # a ticker with no price data: it fails, the run goes on


@pytest.fixture(scope="module")
def page(seeds, django_db_blocker):
    with django_db_blocker.unblock():
        session = session_key(seeds.world.bob)
    csrf = secrets.token_hex(16)  # the page's csrftoken cookie, and the header the docs ask for
    env = {
        "SERVER_URL": seeds.server.url,
        "COOKIE": f"sessionid={session}; csrftoken={csrf}",
        "CSRF_TOKEN": csrf,
        "TICKERS": ",".join([*TICKERS, NO_PRICES]),
        "PROFILE_ID": str(seeds.profile.pk),
    }
    return run_node(BASE_DIR / "tests/seeds/node/seed003_page.mjs", env, timeout=60)


def progress(lines: list[dict]) -> list[dict]:
    return [x["data"] for x in lines if x.get("event") == "automation_progress"]


def test_s003_connect(page):
    assert {"connection_status": "connected"} in page
    assert not [x for x in page if x.get("event") == "error" or x.get("connection_status") == "error"]


def test_s003_start_without_csrf(page):
    """Differs on purpose (docs/troubleshooting.md, `csrf_failed`): 403, and the page alerts."""
    refused = next(x for x in page if x.get("fetch") and not x["csrf"])
    assert refused["status"] == 403 and refused["body"]["code"] == "csrf_failed"
    assert {"alert": "Error: " + refused["body"]["error"]} in page


def test_s003_start(page):
    started = next(x for x in page if x.get("fetch") and x["csrf"])
    assert started["status"] == 200 and "error" not in started["body"] and started["body"]["message"]
    assert len([x for x in page if "alert" in x]) == 1  # the refused start's only


def test_s003_progress_fields(page):
    for event in progress(page):
        assert {"stage", "message", "percent", "timestamp"} <= set(event), event
        datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))  # new Date(...) reads it
    assert any("data" in e for e in progress(page))


def test_s003_stages(page):
    stages = [e["stage"] for e in progress(page)]
    assert {"initializing", "processing", "complete"} <= set(stages) and stages[-1] == "complete"
    assert set(stages) <= {"initializing", "processing", "publishing", "complete", "paused"}, stages
    shown = next(x for x in page if "cards" in x)
    assert shown["progress_bar"] == "progress-bar bg-success" and shown["width"] == "100%"


def test_s003_ticker_cards(page):
    shown = next(x["cards"] for x in page if "cards" in x)
    assert {t: shown[t] for t in TICKERS} == {t: "success" for t in TICKERS}


def test_s003_automation_error(page):
    (error,) = [x["data"] for x in page if x.get("event") == "automation_error"]
    assert (error["error_type"], error["recoverable"], error["ticker"]) == ("no_price_data", False, NO_PRICES)
    assert {"notification": {"message": error["message"], "kind": "error"}} in page
    assert not [x for x in page if "retry_button" in x]  # not recoverable: no retry button


def test_s003_ticker_card_error(page):
    assert next(x["cards"] for x in page if "cards" in x)[NO_PRICES] == "error"


def test_s003_pause(page):
    paused = next(x for x in page if x.get("event") == "automation_paused")
    assert paused["data"]["message"] and paused["resume_button"] == "inline-block"


def test_s003_resume(page):
    resumed = next(x for x in page if x.get("event") == "automation_resumed")
    assert resumed["data"]["message"] and resumed["pause_button"] == "inline-block"
