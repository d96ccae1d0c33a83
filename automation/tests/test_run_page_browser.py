"""The run_automation pages in headless Chromium (Debian's), served by daphne with a real RQ
worker: log in through the form, start a run, watch progress arrive, pause and see it stop,
resume, reload mid-run and see the right state at once, see it finish."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from automation.models import AutomationRun
from tools.browser import launch_chromium

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# The committed screenshot is refreshed on request (UPDATE_SCREENSHOTS=1), so a test run does not
# leave the working tree modified; otherwise it goes with the test logs.
_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = (
    _ROOT / "docs" / "screenshots" / "run-page.png"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else _ROOT / "var" / "test-logs" / "run-page.png"
)
# Five tickers at the page's "very slow" pace (1.5 s per step: 3 s per ticker). The pause lands
# after the second ticker, so when the page is reloaded mid-run (the fourth ticker being analysed)
# one ticker is still to come: the run cannot finish before the reload, and the database holds
# still for 1.5 s around it (the next change is that ticker's "publishing" step).
TICKERS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
PACE = "1.5"


def in_thread(fn):
    """The ORM from a thread of its own (playwright's sync API runs an event loop in this one)."""

    def call():
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def published(run_id: int) -> int:
    return in_thread(lambda: AutomationRun.objects.get(pk=run_id).ticker_states.filter(status="published").count())


def status(run_id: int) -> str:
    return in_thread(lambda: AutomationRun.objects.get(pk=run_id).status)


def db_view(run_id: int) -> dict:
    """The run as the database has it now, in the terms the page shows it."""

    def read() -> dict:
        run = AutomationRun.objects.get(pk=run_id)
        return {
            "status": run.status,
            "stage": run.stage,
            "percent": f"{run.percent}%",
            "cards": [[s.ticker, s.status] for s in run.ticker_states.order_by("position")],
        }

    return in_thread(read)


PAGE_VIEW = """() => ({
    status: document.getElementById("run-status").textContent.trim(),
    stage: document.getElementById("run-stage").textContent.trim(),
    percent: document.getElementById("progress-percent").textContent.trim(),
    cards: [...document.querySelectorAll(".ticker-card")].map(
        (el) => [el.dataset.ticker, el.className.replace("ticker-card status-", "")]
    ),
})"""


LOG_LINES = """() => [...document.querySelectorAll("#progress-log .message")]
    .map((el) => el.textContent).filter((text) => !text.startsWith("State loaded"))"""


def expected_log(run_id: int) -> list[str]:
    """The log lines the run's events make (the run room's replay log, read here): one line per
    event, a pause or cancel announced by two events in a row shown once."""
    from realtime import eventlog
    from realtime.redis import sync_client

    messages, _ = eventlog.read_recent(sync_client(), "/", f"run:{run_id}", limit=300)
    stages = {"automation_paused": "paused", "automation_resumed": "processing", "automation_cancelled": "cancelled"}
    lines: list[tuple[str, str]] = []
    for message in messages:
        event, data = message["event"], message["data"][0]
        if event == "automation_progress":
            line = (data["stage"], data["message"])
        elif event == "automation_error":
            line = ("error", data["message"] + (" (recoverable)" if data.get("recoverable") else ""))
        elif event in stages:
            line = (stages[event], data["message"])
        else:
            continue
        if not lines or lines[-1] != line:
            lines.append(line)
    return [text for _, text in lines]


def assert_log_shows_the_runs_events(page, run_id: int) -> None:
    """The page's log is the run's events, in order, each once (waiting for the last to arrive)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    expected = expected_log(run_id)
    assert expected, "the run has logged events"
    try:
        page.wait_for_function(
            f"(expected) => JSON.stringify(({LOG_LINES})()) === JSON.stringify(expected)", arg=expected, timeout=10000
        )
    except PlaywrightTimeout:
        assert page.evaluate(LOG_LINES) == expected


def test_it_runs_pauses_resumes_and_reloads_in_a_browser(world, profile, asgi_server, rq_worker):
    from playwright.sync_api import expect, sync_playwright

    username = world.alice.username
    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        try:
            page = chromium.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            page.goto(f"{asgi_server.url}/runs/")
            expect(page).to_have_url(f"{asgi_server.url}/accounts/login/?next=/runs/")
            page.fill("#id_username", username)
            page.fill("#id_password", "password")
            page.click("#login-submit")
            expect(page).to_have_url(f"{asgi_server.url}/runs/")
            expect(page.locator("#connection")).to_have_text("live", timeout=15000)

            # Bad input is refused on the page, with the server's message.
            page.fill("#extra-tickers", "AAPL, AAPL")
            page.click("#start-btn")
            expect(page.locator("#start-error")).to_have_text("ticker AAPL is listed twice")
            page.fill("#extra-tickers", "")

            for ticker in TICKERS:
                page.check(f'input[name="ticker"][value="{ticker}"]')
            page.select_option("#pace-select", PACE)
            page.click("#start-btn")
            page.wait_for_url(f"{asgi_server.url}/runs/*/")
            run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
            expect(page.locator("#connection")).to_have_text("live", timeout=15000)

            # Progress arrives live.
            expect(page.locator(".ticker-card.status-published")).to_have_count(1, timeout=30000)
            expect(page.locator("#run-status")).to_have_text("running")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            # Pause: the run stops at the next ticker boundary (after the ticker it is on).
            page.click("#pause-btn")
            expect(page.locator("#run-status")).to_have_text("paused", timeout=30000)
            expect(page.locator("#resume-btn")).to_be_enabled()
            expect(page.locator("#pause-btn")).to_be_disabled()
            done = published(run_id)
            assert 0 < done <= len(TICKERS) - 3, f"paused after {done} tickers: too late for the mid-run reload"
            expect(page.locator(".ticker-card.status-published")).to_have_count(done)
            assert status(run_id) == "paused"
            assert_log_shows_the_runs_events(page, run_id)
            paused_line = f"Automation paused: {len(TICKERS) - done} tickers remaining"
            assert page.evaluate(LOG_LINES).count(paused_line) == 1  # it was printed twice (issue 13)

            # Reload while paused: the state is there at once, rendered from the database, and the
            # log keeps its history (issue 13: only "State loaded" was left).
            page.reload()
            expect(page.locator("#run-status")).to_have_text("paused", timeout=2000)
            expect(page.locator(".ticker-card.status-published")).to_have_count(done, timeout=2000)
            assert page.evaluate(PAGE_VIEW) == db_view(run_id)
            assert_log_shows_the_runs_events(page, run_id)
            assert page.evaluate(LOG_LINES).count(paused_line) == 1

            # Resume; once the next ticker is published and the one after it is being analysed,
            # reload mid-run: the page shows the database's state at once, then follows on.
            page.click("#resume-btn")
            expect(page.locator(".ticker-card.status-published")).to_have_count(done + 1, timeout=30000)
            analysing = TICKERS[done + 1]
            expect(page.locator(f'.ticker-card.status-processing[data-ticker="{analysing}"]')).to_be_visible(
                timeout=15000
            )
            before = db_view(run_id)
            page.reload()
            shown = page.evaluate(PAGE_VIEW)  # before any live event could change it
            after = db_view(run_id)
            # The database changes once per step (1.5 s); the page matches it at the moment of
            # rendering (the read before the reload, or, had a step ended meanwhile, the one after).
            assert shown in (before, after), (shown, before, after)
            assert (before["status"], before["stage"]) == ("running", "processing"), before
            assert before["percent"] == f"{100 * (done + 1) // len(TICKERS)}%", before
            assert shown["status"] == "running", shown
            assert [c for c in shown["cards"] if c[1] == "published"] == [[t, "published"] for t in TICKERS[: done + 1]]
            assert published(run_id) < len(TICKERS), "the run finished before the reload: make it slower"
            expect(page.locator("#connection")).to_have_text("live", timeout=15000)
            # the history up to the reload, then live: the same lines as the events, each once
            expect(page.locator("#run-status")).to_have_text("completed", timeout=60000)
            assert_log_shows_the_runs_events(page, run_id)

            # It finishes: every ticker published, progress 100%.
            expect(page.locator("#run-status")).to_have_text("completed", timeout=60000)
            expect(page.locator("#progress-percent")).to_have_text("100%")
            expect(page.locator(".ticker-card.status-published")).to_have_count(len(TICKERS))
            expect(page.locator("#pause-btn")).to_be_disabled()
            expect(page.locator("#progress-log")).to_contain_text(
                f"Automation complete: {len(TICKERS)} published, 0 failed"
            )
            # Reloaded after completion: the whole log as it was, from the history alone.
            page.reload()
            expect(page.locator("#run-status")).to_have_text("completed", timeout=2000)
            assert_log_shows_the_runs_events(page, run_id)
            assert page.evaluate(LOG_LINES).count(paused_line) == 1

            # The runs list shows it.
            page.goto(f"{asgi_server.url}/runs/")
            expect(page.locator(f'tr[data-run="{run_id}"] [data-field="status"]')).to_have_text("completed")
            assert not errors, errors
        finally:
            chromium.close()
