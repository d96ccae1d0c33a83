"""Fuzzing every HTTP endpoint of the URLconf (hypothesis) against a real server process:
random methods, bodies (JSON built from the fields the endpoints read, raw bytes, deep nesting,
control characters, non-ASCII digits), media types, credentials, path parameters and query
strings. Nothing may answer 5xx, every JSON endpoint answers JSON, and the server logs no
traceback. Third-party admin screens (admin/, django-rq/) are left to their own projects."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import redis
import requests
from django.conf import settings
from hypothesis import strategies as st

from accounts.tests.endpoints import PARAM, is_json_route, json_endpoints, url_routes
from realtime.tests.test_fuzz_packets import assert_no_tracebacks, fuzz, json_values
from tools.embedded_redis import free_port

pytestmark = pytest.mark.django_db(transaction=True)

THIRD_PARTY = ("admin/", "django-rq/")
FIELDS = [
    "tickers", "profile_id", "step_seconds", "tenant_id", "username", "password", "amount", "payee",
    "description", "idempotency_key", "liability_id", "opening_id", "skills", "experience_years",
    "room", "n", "namespace", "steps", "fail_at",
]  # fmt: skip
NASTY = st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "\x1b[2J", "ß", "\ufb00", "\u0131", "1_000", "\u0661\u0660", "1e9", "NaN", "-1", ""]
)
DEPTHS = st.sampled_from([2, 19, 20, 21, 999, 1000, 1001, 5000, 100_000])  # around the limit and the recursion limit
values = json_values | NASTY | st.lists(NASTY, max_size=3) | st.integers(min_value=-(2**70), max_value=2**70)
objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=6)
bodies = st.one_of(
    objects.map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=120),
    DEPTHS.map(lambda n: "[" * n + "]" * n),
    DEPTHS.map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.just(""),
)
path_values = st.one_of(
    st.integers(min_value=0, max_value=10**30).map(str),
    st.text(max_size=12).filter(lambda s: "/" not in s and s not in ("", ".", "..")).map(lambda s: quote(s, safe="")),
)


def all_routes() -> list[str]:
    from django.urls import get_resolver

    routes = [r for r, _ in url_routes(get_resolver().url_patterns) if not r.startswith(THIRD_PARTY)]
    return sorted(set(routes))


@pytest.fixture
def http_fuzz_server():
    """A server of this test's own on a Redis database of its own: jobs the fuzzer happens to
    start land in a queue no worker of the suite reads, and are dropped after."""
    from conftest import start_server

    url = settings.REDIS_URL.rsplit("/", 1)[0] + "/7"
    server = start_server(free_port(), REDIS_URL=url, LOGIN_FAILURE_LIMIT="1000")
    yield server
    server.proc.stop()
    redis.Redis.from_url(url).flushdb()


def test_no_request_to_any_endpoint_gets_a_5xx_or_a_traceback(world, http_fuzz_server):
    routes = all_routes()
    assert {e.route for e in json_endpoints()} <= set(routes)
    token = world.token(world.alice)
    http = requests.Session()
    credentials = st.sampled_from(
        [{}, {"Authorization": f"Bearer {token}"}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic x"}]
    )
    content_types = st.sampled_from(
        [
            None,
            "application/json",
            "application/json; charset=utf-16",
            "text/plain",
            "application/x-www-form-urlencoded",
        ]
    )
    methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
    queries = st.dictionaries(
        st.sampled_from(["unread", "limit", "next", "page", "x"]), st.text(max_size=8), max_size=3
    )
    sent = 0

    allowed = {e.route: e.methods for e in json_endpoints()}
    for route in routes:
        names = [m["name"] for m in PARAM.finditer(route)]
        # half of the requests are the endpoint's own method, with a JSON body and alice's token:
        # the ones that reach the body parser and the view
        request = st.fixed_dictionaries(
            {
                "method": st.sampled_from(allowed.get(route, ("GET", "POST"))) | methods,
                "params": st.fixed_dictionaries(
                    {n: path_values | st.just(world.alice.username) | st.just(str(world.apollo.pk)) for n in names}
                ),
                "query": queries,
                "body": bodies,
                "content_type": st.just("application/json") | content_types,
                "headers": st.just({"Authorization": f"Bearer {token}"}) | credentials,
            }
        )

        def send(example: dict, route: str = route) -> None:
            nonlocal sent
            path = PARAM.sub(lambda match: example["params"][match["name"]], route)
            headers = dict(example["headers"])
            if example["content_type"]:
                headers["Content-Type"] = example["content_type"]
            r = http.request(
                example["method"],
                f"{http_fuzz_server.url}/{path}",
                params=example["query"],
                data=example["body"].encode() if isinstance(example["body"], str) else example["body"],
                headers=headers,
                allow_redirects=False,
                timeout=30,
            )
            sent += 1
            assert r.status_code < 500, (route, example, r.status_code, r.text[:500])
            if is_json_route(route) and example["method"] != "HEAD" and r.status_code != 404:
                assert r.headers["Content-Type"] == "application/json", (route, example, r.headers, r.text[:300])
                assert {"error", "code"} <= set(r.json()) or r.ok, (route, example, r.text[:300])

        fuzz(request, send)
    print(f"http fuzz: {sent} requests to {len(routes)} routes")
    assert_no_tracebacks(http_fuzz_server)
