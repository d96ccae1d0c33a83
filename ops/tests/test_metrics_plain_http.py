"""With the production settings (DEBUG off, so SECURE_SSL_REDIRECT on), Prometheus scrapes a
daphne process over plain HTTP (docs/ops.md): /metrics answers instead of redirecting to https,
while every other page still redirects."""

from __future__ import annotations

import secrets

import pytest
import requests

from testing.processes import start_server

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "plain-http-scrape-token-0123456789"


@pytest.fixture
def production_server(django_db_setup, django_db_blocker):
    live = start_server(
        DJANGO_SETTINGS_MODULE="project.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        METRICS_TOKEN=TOKEN,
    )
    yield live
    live.proc.stop()


def test_metrics_answer_over_plain_http_with_ssl_redirect_on(production_server):
    url = production_server.url
    r = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10, allow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"))
    assert "realtime_events_per_second" in r.text
    # still protected: the exemption is from the redirect, not from the token check
    assert requests.get(f"{url}/metrics", timeout=10, allow_redirects=False).status_code == 401
    # and the redirect is still on for everything else
    other = requests.get(f"{url}/api/stats", timeout=10, allow_redirects=False)
    assert other.status_code == 301 and other.headers["Location"].startswith("https://")
