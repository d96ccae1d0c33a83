"""GET /api/stats gives staff the same numbers as statistics_update, for polling."""

from __future__ import annotations

import socket

import pytest
import requests

from realtime.emit import emit, user_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_gives_staff_the_numbers(world, staff, browser, asgi_server, connect):
    client = connect(world.token(world.bob))
    ops = connect(world.token(staff))
    ops.call("subscribe", {"room": "staff"})
    online = lambda d: world.bob.username in {u for t in d["presence"] for u in t["users"]}  # noqa: E731
    pushed = ops.wait_for("statistics_update", online, timeout=20)  # the process numbers include bob now
    before = browser(staff).get(f"{asgi_server.url}/api/stats", timeout=10).json()
    for n in range(5):
        emit("test_event", {"n": n}, room=user_room(world.bob.pk))
    client.wait_for("test_event", lambda d: d["n"] == 4)
    r = browser(staff).get(f"{asgi_server.url}/api/stats", timeout=10)
    assert r.status_code == 200, r.text
    stats = r.json()
    assert stats["emits_by_event"]["test_event"] >= before["emits_by_event"].get("test_event", 0) + 5
    assert stats["events_per_second"] > 0
    assert stats["connections"] >= 1
    # The same processes, but for one a test stopped just before (test_admin_ui's server): it
    # leaves within its snapshot's TTL, possibly between the push and this poll.
    polled, was_pushed = {p["process"] for p in stats["processes"]}, {p["process"] for p in pushed["processes"]}
    assert f"{socket.gethostname()}:{asgi_server.proc.popen.pid}" in polled & was_pushed
    assert polled <= was_pushed
    assert set(stats) == set(pushed) - {"_meta"}


def test_it_refuses_anyone_else(world, browser, asgi_server):
    url = f"{asgi_server.url}/api/stats"
    r = browser(world.bob).get(url, timeout=10)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    r = requests.get(url, headers={"Authorization": f"Bearer {world.token(world.bob)}"}, timeout=10)
    assert r.status_code == 403
    r = requests.get(url, timeout=10)
    assert (r.status_code, r.json()["code"]) == (401, "unauthenticated")
    assert requests.post(url, timeout=10).status_code == 405
