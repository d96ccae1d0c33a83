"""POST /api/auth/token: username + password -> a JWT that a real Socket.IO client connects
with; every bad request is a 4xx JSON answer with a code, never a 500."""

from __future__ import annotations

import json

import pytest
import requests

from accounts.tokens import decode_jwt

pytestmark = pytest.mark.django_db(transaction=True)


def post(asgi_server, body: object = None, *, data: bytes | None = None) -> requests.Response:
    url = f"{asgi_server.url}/api/auth/token"
    if data is not None:
        return requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=10)
    return requests.post(url, json=body, timeout=10)


def test_good_credentials_get_a_jwt_a_client_connects_with(world, asgi_server, connect):
    r = post(asgi_server, {"username": world.bob.username, "password": "password"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    claims = decode_jwt(body["token"])
    assert (claims.user_id, claims.tenant_id) == (world.bob.pk, world.acme.pk)
    client = connect(body["token"])
    assert client.wait_for("connected")["user_id"] == world.bob.pk


@pytest.mark.parametrize("who", ["wrong password", "unknown user", "inactive user"])
def test_bad_credentials_are_refused_alike(world, asgi_server, who):
    if who == "inactive user":
        world.bob.is_active = False
        world.bob.save(update_fields=["is_active"])
    username = "nobody-here" if who == "unknown user" else world.bob.username
    password = "not-the-password" if who == "wrong password" else "password"
    r = post(asgi_server, {"username": username, "password": password})
    assert r.status_code == 401, r.text
    assert r.json() == {"error": "invalid username or password", "code": "invalid_credentials"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "alice"},
        {"password": "password"},
        {"username": "", "password": "password"},
        {"username": 1, "password": "password"},
        {"username": "alice", "password": None},
    ],
)
def test_missing_or_wrong_fields_are_a_400(world, asgi_server, body):
    r = post(asgi_server, body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_input"


@pytest.mark.parametrize("data", [b"{not json", b'["username", "password"]', b"\xff\xfe", b'"text"'])
def test_malformed_json_is_a_400(asgi_server, data):
    r = post(asgi_server, data=data)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_json"


@pytest.mark.parametrize("field", ["username", "password"])
def test_a_nul_byte_is_a_400_not_a_500(world, asgi_server, field):
    """PostgreSQL text cannot hold NUL: looking such a username up raises DataError (a 500)."""
    body = {"username": world.bob.username, "password": "password"}
    body[field] = body[field][:2] + "\x00" + body[field][2:]
    r = post(asgi_server, body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_text"


def test_deeply_nested_json_is_a_400_not_a_500(asgi_server):
    """A RecursionError in the parser was a 500 with a traceback, without logging in (issue 21)."""
    r = post(asgi_server, data=b"[" * 100_000 + b"]" * 100_000)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "too_deep"
    assert "RecursionError" not in asgi_server.proc.log_path.read_text(errors="replace")


def test_a_body_too_large_is_a_413(asgi_server):
    r = post(asgi_server, data=b'{"username": "' + b"a" * 300_000 + b'"}')
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "body_too_large"


def test_a_chunked_body_is_read_and_held_to_the_same_limit(world, asgi_server):
    url = f"{asgi_server.url}/api/auth/token"
    headers = {"Content-Type": "application/json"}  # a generator body goes out chunked, without a length
    body = json.dumps({"username": world.bob.username, "password": "password"}).encode()
    r = requests.post(url, data=iter([body[:10], body[10:]]), headers=headers, timeout=10)
    assert r.status_code == 200 and r.json()["token"], r.text
    r = requests.post(url, data=iter([b'{"username": "', b"a" * 300_000, b'"}']), headers=headers, timeout=10)
    assert r.status_code == 413 and r.json()["code"] == "body_too_large", r.text
