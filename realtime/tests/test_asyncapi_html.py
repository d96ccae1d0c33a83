"""The event contract's HTML docs: /docs/events/ renders the served AsyncAPI document with
AsyncAPI's own React component (from npm, served from our static files) in headless Chromium."""

from __future__ import annotations

import json

import pytest

from realtime import contract
from tools.browser import launch_chromium

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_html_docs_render_every_event_from_the_asyncapi_document(asgi_server):
    from playwright.sync_api import expect, sync_playwright

    names = sorted({e["name"] for e in json.loads(contract.CONTRACT_PATH.read_text())["events"]})
    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        try:
            page = chromium.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(f"{asgi_server.url}/docs/events/")
            expect(page.locator("#introduction")).to_contain_text("Realtime events", timeout=30000)
            text = page.locator("#asyncapi").inner_text()
            missing = [n for n in names if n not in text]
            assert not missing, missing
            assert "_meta" in text or "ReplayMeta" in text
            assert not errors and not failed, (errors, failed)
        finally:
            chromium.close()
