"""Debian's Chromium for browser tests and screenshots, driven by Playwright (`playwright install`
cannot download a browser here). The flags keep it from reaching out to the network."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """Launch Debian's Chromium with Playwright (sync or async API alike)."""
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)


@contextmanager
def page_with_errors(**page_options: Any) -> Iterator[tuple[Any, list[str]]]:
    """A new page of a fresh Chromium, and the list its uncaught errors and failed requests go to."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        try:
            page = chromium.new_page(**page_options)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
            yield page, errors
        finally:
            chromium.close()


@contextmanager
def logged_in_page(base_url: str, session_key: str, **context_options: Any) -> Iterator[Any]:
    """A page of a fresh Chromium context holding the session cookie of a logged-in user (see the
    `session_cookie` fixture). Make the cookie before: the ORM cannot run inside playwright's loop."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        try:
            context = chromium.new_context(**context_options)
            context.add_cookies([{"name": "sessionid", "value": session_key, "url": base_url}])
            yield context.new_page()
        finally:
            chromium.close()
