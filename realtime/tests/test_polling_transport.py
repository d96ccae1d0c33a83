"""The long-polling transport: chunked POST bodies are read (bounded by max_http_buffer_size),
and the legacy JSONP form is refused (issue 21, defects 3 and 8). A real daphne server, raw
HTTP requests."""

from __future__ import annotations

import json

import pytest
import requests

from realtime.tests.test_fuzz_packets import Polling, assert_no_tracebacks

pytestmark = pytest.mark.django_db(transaction=True)


def chunked(text: str, size: int = 7):
    """A body that requests sends with `Transfer-Encoding: chunked` (no Content-Length)."""
    data = text.encode()
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_connect_and_event_are_taken(world, asgi_server):
    poller = Polling(asgi_server, world.token(world.alice))
    r = poller.http.get(poller.base + "?EIO=4&transport=polling", timeout=10)
    poller.sid = json.loads(r.text[1:])["sid"]
    r = poller.http.post(poller._url(), data=chunked("40" + json.dumps({"token": poller.token})), timeout=10)
    assert r.status_code == 200, r.text
    assert "chunked" in r.request.headers.get("Transfer-Encoding", "")
    poller.poll(until=lambda f: f.startswith("40{"))  # the CONNECT happened (it was dropped before)
    r = poller.http.post(poller._url(), data=chunked('42["echo",{"n":31}]'), timeout=10)
    assert r.status_code == 200, r.text
    poller.poll(until=lambda f: f.startswith('42["test_event"') and '"n":31' in f)


def test_an_oversize_chunked_body_is_refused_and_ends_the_session(world, asgi_server, settings):
    poller = Polling(asgi_server, world.token(world.alice))
    poller.open()
    body = '42["echo",{"n":1,"text":"' + "x" * (settings.SOCKETIO_MAX_HTTP_BUFFER_SIZE + 1024) + '"}]'
    r = poller.http.post(poller._url(), data=chunked(body, 4096), timeout=10)
    assert r.status_code == 400, (r.status_code, r.text[:200])
    r = poller.http.get(poller._url(), timeout=10)
    assert r.status_code == 400 and "Invalid session" in r.text
    assert_no_tracebacks(asgi_server)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_jsonp_polling_is_refused(world, asgi_server, method):
    poller = Polling(asgi_server, world.token(world.alice))
    poller.open()
    for url in (poller.base + "?EIO=4&transport=polling&j=0", poller._url() + "&j=1"):
        r = requests.request(method, url, data="40" if method == "POST" else None, timeout=10)
        assert r.status_code == 400, (url, r.status_code, r.text[:200])
        assert r.headers["Content-Type"] == "application/json"
        assert r.json()["code"] == "jsonp_not_supported"
        assert "___eio" not in r.text
    # the session without j= goes on
    poller.http.post(poller._url(), data='42["echo",{"n":5}]', timeout=10)
    poller.poll(until=lambda f: f.startswith('42["test_event"') and '"n":5' in f)
