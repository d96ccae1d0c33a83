"""Seed 004's keepalive: a client `ping` (no payload) gets `pong` (no payload) on every namespace,
through the same rate limit and contract as any client event."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

NAMESPACES = ["/", "/notifications", "/provisioning", "/billing"]


def test_ping_gets_pong_on_every_namespace(world, connect):
    client = connect(world.token(world.bob), namespaces=NAMESPACES)
    for ns in NAMESPACES:
        client.emit("ping", None, namespace=ns)  # as seed 004's table has it: no payload
        assert client.wait_for("pong", namespace=ns) is None  # and none back
        assert client.call("ping", {}, namespace=ns) == {"ok": True}
    assert client.received("pong", namespace="/") == [None, None]
    assert client.received("error") == []


def test_a_ping_with_a_payload_is_refused(world, connect):
    client = connect(world.token(world.bob))
    answer = client.call("ping", {"at": 1})
    assert answer["ok"] is False and answer["code"] == "invalid_payload"
    assert client.received("pong") == []


def test_pings_are_rate_limited_like_any_client_event(world, connect, settings):
    client = connect(world.token(world.bob))
    burst = settings.SOCKETIO_RATE_LIMIT_BURST  # the server's (the same settings module)
    for _ in range(burst * 2):
        client.emit("ping", None)
    error = client.wait_for("error", lambda e: e["code"] == "rate_limited")
    assert error["event"] == "ping"
    assert len(client.received("pong")) < burst * 2
