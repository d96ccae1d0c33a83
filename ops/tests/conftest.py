"""Fixtures of the ops tests: a staff user, and an HTTP session logged in as someone."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def staff(world):
    world.alice.is_staff = True
    world.alice.save(update_fields=["is_staff"])
    return world.alice


@pytest.fixture
def browser(session_cookie):
    """browser(user) -> a requests.Session carrying that user's Django session cookie."""

    def make(user) -> requests.Session:
        http = requests.Session()
        http.cookies.set("sessionid", session_cookie(user))
        return http

    return make
