"""The run pages: login required, your own runs only, and the run page rendered from the
database (the state is there before any live event)."""

from __future__ import annotations

import pytest
from django.test import Client

from automation import services
from automation.models import AutomationRun

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_requires_login(world, profile):
    run = services.start_run(owner=world.alice, tickers=["AAPL"], profile_id=profile.pk)
    for url in ("/runs/", f"/runs/{run.pk}/"):
        r = Client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/?next=")
    assert Client().get("/accounts/login/").status_code == 200
    assert Client().get(f"/api/automation/{run.pk}").status_code == 401


def test_it_shows_only_your_runs(world, profile):
    run = services.start_run(owner=world.alice, tickers=["AAPL", "NVDA"], profile_id=profile.pk)
    page = client_for(world.alice).get("/runs/").content.decode()
    assert f'data-run="{run.pk}"' in page and "socket.io.min.js" in page and "cdn" not in page.lower()
    bob = client_for(world.bob)
    assert f'data-run="{run.pk}"' not in bob.get("/runs/").content.decode()
    assert bob.get(f"/runs/{run.pk}/").status_code == 404
    assert bob.get(f"/api/automation/{run.pk}").status_code == 404


def test_the_run_page_renders_the_current_state(world, profile):
    run = services.start_run(owner=world.alice, tickers=["AAPL", "NVDA"], profile_id=profile.pk)
    AutomationRun.objects.filter(pk=run.pk).update(status="paused", stage="paused", percent=50, message="Paused here")
    run.ticker_states.filter(ticker="AAPL").update(status="published", published_id="local-7")
    page = client_for(world.alice).get(f"/runs/{run.pk}/").content.decode()
    assert 'id="run-status" class="badge status-paused">paused<' in page
    assert "width: 50%" in page and "Paused here" in page
    assert 'class="ticker-card status-published" data-ticker="AAPL"' in page and "local-7" in page
    assert 'class="ticker-card status-pending" data-ticker="NVDA"' in page
    state = client_for(world.alice).get(f"/api/automation/{run.pk}").json()
    assert state["status"] == "paused" and [t["status"] for t in state["tickers"]] == ["published", "pending"]
