"""The live ops page in the Django admin: staff only, and it goes live over the staff room in a
real browser (chromium), redrawing on statistics_update."""

from __future__ import annotations

import pytest

from tools.browser import logged_in_page

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_is_for_staff_only(world, staff, browser, asgi_server):
    url = f"{asgi_server.url}/admin/ops/liveops/"
    r = browser(staff).get(url, timeout=10)
    assert r.status_code == 200
    assert "Live ops" in r.text and 'id="ops-initial"' in r.text
    assert "/admin/ops/liveops/" in browser(staff).get(f"{asgi_server.url}/admin/", timeout=10).text
    r = browser(world.bob).get(url, timeout=10, allow_redirects=False)
    assert r.status_code == 302 and "/admin/login/" in r.headers["Location"]


def test_it_goes_live_in_a_browser(world, staff, session_cookie, asgi_server, connect):
    from playwright.sync_api import expect

    connect(world.token(world.bob))
    cookie, bob = session_cookie(staff), world.bob.username  # the ORM before playwright's loop starts
    with logged_in_page(asgi_server.url, cookie) as page:
        page.goto(f"{asgi_server.url}/admin/ops/liveops/")
        expect(page.locator("#ops-link-text")).to_have_text("live (staff room)", timeout=15000)
        first = page.locator("#ops-updated").text_content()
        expect(page.locator("#ops-updated")).not_to_have_text(first, timeout=20000)  # a statistics_update
        expect(page.locator("#ops-presence-table")).to_contain_text(bob, timeout=20000)
