"""Every JSON endpoint (found in the URLconf: accounts/tests/endpoints.py) answers a client's
mistake with JSON `{error, code}` and logs no traceback: a method it does not take (405), a body
too large (413), not JSON (415), a session without its CSRF token (403), a body that is not
JSON, nested too deeply or holding control characters (400). The HTML pages keep Django's."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings
from django.test import Client

from accounts.tests.endpoints import Endpoint, json_endpoints

pytestmark = pytest.mark.django_db

ENDPOINTS = json_endpoints()
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def ids(endpoint: Endpoint) -> str:
    return endpoint.route


@pytest.fixture
def no_tracebacks(caplog):
    """No record a client's mistake logged carries a traceback or is an error."""
    caplog.set_level(logging.INFO)
    yield
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [(r.name, r.getMessage()) for r in bad]


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert body["code"] == code and isinstance(body["error"], str) and body["error"], body
    return body


def test_the_sweep_finds_the_json_endpoints():
    routes = {e.route for e in ENDPOINTS}
    assert {"api/auth/token", "start-automation", "api/bank/<str:username>/make_payment", "api/jobs/apply"} <= routes
    assert len(routes) >= 15, routes


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_a_method_it_does_not_take_is_405_json(endpoint, no_tracebacks):
    method = next(m for m in ("PUT", "DELETE", "PATCH", "GET") if m not in endpoint.methods)
    response = Client().generic(method, endpoint.path())
    assert_json_error(response, 405, "method_not_allowed")
    assert set(response["Allow"].split(", ")) == set(endpoint.methods)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_a_body_too_large_is_413_json(endpoint, no_tracebacks):
    limit = settings.API_MAX_BODY_BYTES
    big = json.dumps({"text": "a" * limit})
    for method in endpoint.methods:
        response = Client().generic(method, endpoint.path(), big, content_type="application/json")
        assert assert_json_error(response, 413, "body_too_large")["limit"] == limit
    # larger than Django's own DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig: an HTML 400 and a
    # logged traceback before, on /start-automation: issue 13)
    huge = "[" + "0," * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + "0]"
    response = Client().generic(endpoint.methods[0], endpoint.path(), huge, content_type="application/json")
    assert_json_error(response, 413, "body_too_large")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", ""]
)
def test_a_body_that_is_not_json_is_415_json(endpoint, content_type, no_tracebacks):
    for method in endpoint.methods:
        response = Client().generic(method, endpoint.path(), "a=1", content_type=content_type)
        assert_json_error(response, 415, "unsupported_media_type")
    response = Client().generic(
        endpoint.methods[0], endpoint.path(), "{}", content_type="application/json; charset=latin-1"
    )
    assert_json_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if set(e.methods) & set(UNSAFE)], ids=ids)
def test_a_session_without_its_csrf_token_is_403_json(endpoint, world, no_tracebacks):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    method = next(m for m in endpoint.methods if m in UNSAFE)
    response = client.generic(
        method, endpoint.path(username=world.alice.username), "{}", content_type="application/json"
    )
    if endpoint.anonymous:  # the token endpoint takes no session: no cookie credential to forge
        assert response.status_code in (400, 401), response.content
    else:
        assert_json_error(response, 403, "csrf_failed")


def test_the_login_page_keeps_djangos_csrf_page(no_tracebacks):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403 and response["Content-Type"].startswith("text/html")


BAD_BODIES = [
    ("{not json", "invalid_json"),
    ('"a string"', "invalid_json"),
    ("[1, 2]", "invalid_json"),
    ('{"a": NaN}', "invalid_json"),
    ("\xff\xfe{}", "invalid_json"),
    ("[" * 100_000 + "]" * 100_000, "too_deep"),  # a RecursionError: a 500 before (issue 21)
    ('{"a": ' * 50 + "1" + "}" * 50, "too_deep"),
    ('{"a": ' + "[" * 25 + "]" * 25 + "}", "too_deep"),
    (json.dumps({"text": "a\x00b"}), "invalid_text"),
    (json.dumps({"text": "a\x1bb"}), "invalid_text"),
    (json.dumps({"text": "\x85"}), "invalid_text"),
    ('{"text": "\\ud800"}', "invalid_text"),
    (json.dumps({"k\x00": 1}), "invalid_text"),
    (json.dumps({"nested": [{"deeper": ["\x00"]}]}), "invalid_text"),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_a_bad_json_body_is_400_json(endpoint, world, no_tracebacks):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world.token(world.alice)}"}
    path = endpoint.path(username=world.alice.username)
    for method in endpoint.methods:
        for raw, code in BAD_BODIES:
            data = raw.encode("latin-1") if raw.startswith("\xff") else raw
            response = Client().generic(method, path, data, content_type="application/json", **auth)
            assert_json_error(response, 400, code)


def test_the_depth_limit_lets_an_ordinary_body_through(world, no_tracebacks):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world.token(world.alice)}"}
    nested = {"a": {"b": [[{"c": ["tab\tand\nnewline are text"]}]]}}
    response = Client().post("/api/auth/token", json.dumps(nested), content_type="application/json", **auth)
    assert_json_error(response, 400, "invalid_input")  # past the parser: the view's own check


@pytest.mark.parametrize(
    "path", ["/api/nothing-here", "/api/automation/abc", "/api/projects/1/jobs/x", "/api/", "/api/auth/token/"]
)
def test_an_unknown_api_path_is_404_json(path, no_tracebacks):
    assert_json_error(Client().post(path, "{}", content_type="application/json"), 404, "not_found")


def test_an_unknown_page_keeps_djangos_404_page(no_tracebacks):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
