"""Fixtures of the automation tests: publishing profiles, an HTTP client per user (JWT), and
workers on a queue of the test's own (the kill test)."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def profile(world):
    from automation.models import PublishingProfile

    return PublishingProfile.objects.create(owner=world.alice, name="Alice's store")


@pytest.fixture
def api(asgi_server, world):
    """api(user) -> a requests.Session that authenticates with the user's JWT."""

    def make(user) -> requests.Session:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {world.token(user)}"
        http.base = asgi_server.url
        return http

    return make
