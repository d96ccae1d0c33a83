"""Login throttling (django-axes): after LOGIN_FAILURE_LIMIT failed logins for a username, or
from an address, that username or address is locked out, even with the right password: 429 JSON
with Retry-After on POST /api/auth/token, a 429 HTML page on the login form; the attempts are
listed in the admin. Against a real server process of the test's own (limit 3); the client's
address is chosen by binding to another loopback address (127.0.0.x)."""

from __future__ import annotations

import http.client
import json
import re

import pytest
import requests
from django.test import Client

from tools.embedded_redis import free_port

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 3
LOCKOUT_SECONDS = 60


@pytest.fixture
def throttled_server():
    from conftest import start_server

    server = start_server(free_port(), LOGIN_FAILURE_LIMIT=str(LIMIT), LOGIN_LOCKOUT_SECONDS=str(LOCKOUT_SECONDS))
    yield server
    server.proc.stop()


def token_request(server, username: str, password: str, *, address: str) -> tuple[int, dict, dict]:
    """POST /api/auth/token from `address` (a 127.0.0.x the client binds to)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10, source_address=(address, 0))
    try:
        body = json.dumps({"username": username, "password": password})
        conn.request("POST", "/api/auth/token", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


def assert_locked_out(status: int, headers: dict, body: dict) -> None:
    assert status == 429, (status, body)
    assert body["code"] == "locked_out" and body["retry_after"] == LOCKOUT_SECONDS, body
    assert headers["Retry-After"] == str(LOCKOUT_SECONDS)
    assert headers["Content-Type"] == "application/json"


def test_a_username_is_locked_out_after_the_limit_from_any_address(world, throttled_server):
    bob = world.bob.username
    for n in range(LIMIT - 1):
        status, _, body = token_request(throttled_server, bob, "wrong", address=f"127.0.0.{10 + n}")
        assert (status, body["code"]) == (401, "invalid_credentials")
    # the failure that reaches the limit is answered with the lockout
    assert_locked_out(*token_request(throttled_server, bob, "wrong", address="127.0.0.19"))
    assert_locked_out(*token_request(throttled_server, bob, "password", address="127.0.0.20"))
    # another username from a fresh address is not affected
    status, _, body = token_request(throttled_server, world.alice.username, "password", address="127.0.0.21")
    assert status == 200 and body["token"]


def test_an_address_is_locked_out_after_the_limit_for_any_username(world, throttled_server):
    for n in range(LIMIT):
        status, _, _ = token_request(throttled_server, f"nobody-{n}", "wrong", address="127.0.0.30")
        assert status == (401 if n < LIMIT - 1 else 429)
    assert_locked_out(*token_request(throttled_server, world.alice.username, "password", address="127.0.0.30"))
    status, _, _ = token_request(throttled_server, world.alice.username, "password", address="127.0.0.31")
    assert status == 200


def test_fewer_failures_than_the_limit_still_let_the_right_password_in(world, throttled_server):
    for _ in range(LIMIT - 1):
        assert token_request(throttled_server, world.bob.username, "wrong", address="127.0.0.40")[0] == 401
    assert token_request(throttled_server, world.bob.username, "password", address="127.0.0.40")[0] == 200


def form_login(http: requests.Session, server, username: str, password: str) -> requests.Response:
    page = http.get(f"{server.url}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    return http.post(
        f"{server.url}/accounts/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/runs/"},
        headers={"Referer": f"{server.url}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )


def test_the_login_form_answers_a_lockout_with_a_page(world, throttled_server):
    http = requests.Session()
    for n in range(LIMIT):
        r = form_login(http, throttled_server, world.charlie.username, "wrong")
        assert r.status_code == (200 if n < LIMIT - 1 else 429)
    r = form_login(http, throttled_server, world.charlie.username, "password")
    assert r.status_code == 429 and r.headers["Content-Type"].startswith("text/html")
    assert 'id="lockout-message"' in r.text and r.headers["Retry-After"] == str(LOCKOUT_SECONDS)
    assert "sessionid" not in http.cookies


def test_the_admin_lists_the_failed_attempts(world, throttled_server):
    from django.contrib.auth import get_user_model

    for _ in range(LIMIT):
        token_request(throttled_server, world.bob.username, "wrong", address="127.0.0.50")
    staff = get_user_model().objects.create_superuser(f"ops-{world.acme.pk}", "ops@example.com", "password")
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200
    assert world.bob.username in page.content.decode() and "127.0.0.50" in page.content.decode()
