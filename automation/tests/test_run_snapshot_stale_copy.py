"""Zulip's stale-copy test for the run room: take the run's snapshot (and the sequence number it
corresponds to) mid-run, apply every later event of the room to that copy the way the run page
does (static/js/run_page.js `onEvent`, ported below), through a pause, a resume and a failing
ticker, and compare the copy with a fresh snapshot and with the HTTP state at the end."""

from __future__ import annotations

import copy

import pytest

from automation.tests.helpers import in_room, published_event

pytestmark = pytest.mark.django_db(transaction=True)

TICKERS = ["AAPL", "MSFT", "ZZZZ", "GOOGL", "AMZN"]  # ZZZZ has no price data: it fails
STAGE_STATUS = {"complete": "completed", "cancelled": "cancelled", "paused": "paused", "error": "failed"}


def set_ticker(state: dict, ticker: str, **changes) -> None:
    for t in state["tickers"]:
        if t["ticker"] == ticker:
            t.update(changes)


def apply(state: dict, event: str, data: dict) -> None:
    """run_page.js onEvent, for the fields a snapshot and the page share."""
    if event == "automation_progress":
        state["stage"] = data["stage"]
        state["message"] = data["message"]
        if "percent" in data:
            state["percent"] = data["percent"]
        if data["stage"] in STAGE_STATUS:
            state["status"] = STAGE_STATUS[data["stage"]]
            state["requested"] = ""
        elif state["status"] in ("queued", "paused"):
            state["status"] = "running"
        d = data.get("data") or {}
        for ticker, status in (d.get("states") or {}).items():
            set_ticker(state, ticker, status=status)
        if d.get("ticker") and d.get("status"):
            set_ticker(state, d["ticker"], status=d["status"], published_id=d.get("post_id") or "")
        if data["stage"] == "cancelled":
            for t in state["tickers"]:
                if t["status"] in ("pending", "processing"):
                    t["status"] = "cancelled"
    elif event == "automation_paused":
        state.update(status="paused", stage="paused", requested="", message=data["message"])
    elif event == "automation_resumed":
        if state["status"] in ("paused", "completed", "failed"):
            state["status"] = "queued"
        state.update(requested="", error="", message=data["message"])
        for t in state["tickers"]:
            if t["status"] == "failed":
                t["status"] = "pending"
    elif event == "automation_cancelled":
        state.update(status="cancelled", stage="cancelled", requested="", message=data["message"])
    elif event == "automation_error":
        if data.get("ticker"):
            set_ticker(state, data["ticker"], status="failed")
        else:
            state["error"] = data["message"]


def comparable(run: dict) -> dict:
    return {
        "status": run["status"],
        "stage": run["stage"],
        "percent": run["percent"],
        "requested": run["requested"],
        "tickers": [(t["ticker"], t["status"], t["published_id"] or "") for t in run["tickers"]],
    }


def test_a_stale_run_snapshot_plus_its_later_events_equals_a_fresh_one(world, profile, api, connect, rq_worker):
    http = api(world.alice)
    r = http.post(
        f"{http.base}/start-automation",
        json={
            "tickers": TICKERS,
            "profile_id": profile.pk,
            "step_seconds": 0.4,
        },  # slow enough to pause mid-run on a loaded CI
        timeout=10,
    )
    assert r.status_code == 200, r.text
    run_id = r.json()["automation_id"]
    room = f"run:{run_id}"
    owner = connect(world.token(world.alice))
    assert owner.call("subscribe", {"room": room})["ok"] is True
    owner.wait_for("automation_progress", published_event(room, "AAPL"), timeout=30)

    # a second page opens mid-run: its snapshot and the position it corresponds to
    page = connect(world.token(world.alice))
    ack = page.call("subscribe", {"room": room})
    stale, since = copy.deepcopy(ack["snapshot"]["run"]), ack["seq"]
    assert stale["status"] == "running" and any(t["status"] == "published" for t in stale["tickers"])

    assert owner.call("pause_automation", {"automation_id": run_id})["ok"] is True
    page.wait_for("automation_paused", in_room(room), timeout=30)
    assert owner.call("resume_automation", {"automation_id": run_id})["ok"] is True
    page.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=60)

    applied = 0
    for _, event, data in list(page.events):
        if isinstance(data, dict) and data.get("_meta", {}).get("room") == room and data["_meta"]["seq"] > since:
            apply(stale, event, data)
            applied += 1
    assert applied >= 5  # pause, resume, the failing ticker, the rest, complete
    assert since > 0

    fresh = page.call("subscribe", {"room": room})["snapshot"]["run"]
    assert comparable(stale) == comparable(fresh)
    over_http = http.get(f"{http.base}/api/automation/{run_id}", timeout=10).json()
    assert comparable(over_http) == comparable(fresh)
    statuses = dict((t, s) for t, s, _ in comparable(fresh)["tickers"])
    assert statuses["ZZZZ"] == "failed" and [s for t, s in statuses.items() if t != "ZZZZ"] == ["published"] * 4
