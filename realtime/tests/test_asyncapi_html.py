"""The event contract's HTML docs: /docs/events/ renders the served AsyncAPI document with
AsyncAPI's own React component (from npm, served from our static files) in headless Chromium."""

from __future__ import annotations

import json

import pytest

from realtime import contract
from tools.browser import page_with_errors

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_html_docs_render_every_event_from_the_asyncapi_document(asgi_server):
    from playwright.sync_api import expect

    names = sorted({e["name"] for e in json.loads(contract.CONTRACT_PATH.read_text())["events"]})
    with page_with_errors(viewport={"width": 1200, "height": 900}) as (page, errors):
        page.goto(f"{asgi_server.url}/docs/events/")
        expect(page.locator("#introduction")).to_contain_text("Realtime events", timeout=30000)
        text = page.locator("#asyncapi").inner_text()
        missing = [n for n in names if n not in text]
        assert not missing, missing
        assert "ReplayMeta" in text or "_meta" in text
        assert not errors, errors
