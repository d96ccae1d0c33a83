"""The run page survives a dropped connection: it reconnects on its own and the server replays
what it missed (auth.last_seen); when the replay log can't cover the gap (resync_required), the
page reloads the run's state over HTTP. Either way it ends showing exactly the database's state."""

from __future__ import annotations

import pytest

from automation import services
from automation.tests.test_run_page_browser import in_thread
from tools.browser import logged_in_page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

TICKERS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META"]


def test_it_reconnects_replays_and_resyncs(world, profile, session_cookie, asgi_server, rq_worker):
    from playwright.sync_api import expect

    run = services.start_run(owner=world.alice, tickers=TICKERS, profile_id=profile.pk, step_seconds=0.4)
    cookie = session_cookie(world.alice)
    with logged_in_page(asgi_server.url, cookie) as page:
        page.goto(f"{asgi_server.url}/runs/{run.pk}/")
        expect(page.locator("#connection")).to_have_text("live", timeout=15000)
        expect(page.locator(".ticker-card.status-published").first).to_be_visible(timeout=30000)

        # 0. The connection drops before a subscribe is acknowledged (same JS tick): the
        #    subscription is made again on reconnect instead of waiting for an ack forever.
        page.evaluate(f"runPage.realtime.subscribe('run:{run.pk}'); runPage.realtime.socket.io.engine.close()")
        expect(page.locator("#connection")).to_have_text("live", timeout=15000)
        expect(page.locator(".ticker-card.status-published").nth(1)).to_be_visible(timeout=30000)

        # 1. The connection drops (transport closed): it reconnects and the server replays.
        page.evaluate("runPage.realtime.socket.io.engine.close()")
        expect(page.locator("#connection")).to_have_text("live", timeout=15000)
        expect(page.locator(".ticker-card.status-published").nth(2)).to_be_visible(timeout=30000)

        # 2. The page's position is from an epoch the server no longer has: resync over HTTP.
        #    In the same JS tick as the drop: a run event arriving in between would put the real
        #    epoch back (seen in CI), and the reconnect would replay instead of resyncing.
        page.evaluate(
            f"runPage.realtime.positions['run:{run.pk}'].epoch = 'gone'; runPage.realtime.socket.io.engine.close()"
        )
        expect(page.locator("#progress-log")).to_contain_text("State reloaded (epoch_changed)", timeout=15000)
        expect(page.locator("#connection")).to_have_text("live", timeout=15000)

        expect(page.locator("#run-status")).to_have_text("completed", timeout=60000)
        expect(page.locator(".ticker-card.status-published")).to_have_count(len(TICKERS))
        shown = page.evaluate("runPage.state")
    expected = in_thread(lambda: services.run_state(services.run_for(world.alice, run.pk)))
    assert {k: shown[k] for k in ("status", "percent", "stage", "message")} == {
        k: expected[k] for k in ("status", "percent", "stage", "message")
    }
    assert [(t["ticker"], t["status"], t["published_id"]) for t in shown["tickers"]] == [
        (t["ticker"], t["status"], t["published_id"]) for t in expected["tickers"]
    ]
