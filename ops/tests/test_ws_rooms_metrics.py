"""Plain /ws/rooms/ clients are visible to ops: each server process counts its live ones (up on
connect, down on disconnect; a refused connection never counts) in its snapshot, /api/stats and
/metrics (`ws_rooms_connections`), and Channels group_sends bridged to rooms are counted
(`realtime_bridged_group_sends_total`, every process)."""

from __future__ import annotations

import socket

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from ops.tests.test_metrics import scrape, value
from realtime.bridge import room_to_group
from realtime.emit import user_room
from realtime.tests.test_bridge_support import RoomStreamClient
from testing.processes import start_server
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "scrape-token-for-the-ws-rooms-test-0123"


@pytest.fixture
def server(asgi_server):  # asgi_server: the test database is set up
    live = start_server(METRICS_TOKEN=TOKEN, OPS_PROCESS_INTERVAL_SECONDS="0.5")
    yield live
    live.proc.stop()


def sends(metrics: dict[str, list]) -> float:
    return value(
        metrics.get("realtime_bridged_group_sends", []), "realtime_bridged_group_sends_total", event="test_event"
    )


def test_live_plain_connections_and_bridged_sends_are_exported(world, staff, browser, server):
    process = f"{socket.gethostname()}:{server.proc.popen.pid}"
    auth = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    http = browser(staff)

    def live() -> tuple[float, int | None]:
        gauge = value(
            scrape(server.url, **auth).get("ws_rooms_connections", []), "ws_rooms_connections", process=process
        )
        procs = http.get(f"{server.url}/api/stats", timeout=10).json()["processes"]
        return gauge, next((p["ws_rooms_connections"] for p in procs if p["process"] == process), None)

    def reaches(n: int) -> None:
        wait_until(lambda: live() == (n, n), timeout=15, what=f"{n} live plain connections on {process}")

    refused = RoomStreamClient(server.url, token="not-a-token")
    assert refused.wait_type("error")["code"] in ("unauthenticated", "invalid_token")
    assert refused.wait_close() == 4401
    clients = [RoomStreamClient(server.url, token=world.token(u)) for u in (world.bob, world.charlie)]
    try:
        for client in clients:
            client.wait_type("welcome")
        reaches(2)
        clients[0].close()
        reaches(1)

        before = scrape(server.url, **auth)
        group = room_to_group(user_room(world.charlie.pk))
        for n in (1, 2):
            async_to_sync(get_channel_layer().group_send)(
                group, {"type": "realtime.event", "event": "test_event", "data": {"n": n}}
            )
        clients[1].wait_for(lambda f: f["type"] == "event" and f["data"]["n"] == 2)
        assert sends(scrape(server.url, **auth)) - sends(before) == 2
    finally:
        for client in clients:
            client.close()
    reaches(0)
    stats = http.get(f"{server.url}/api/stats", timeout=10).json()
    assert stats["bridged_by_event"]["test_event"] >= 2
