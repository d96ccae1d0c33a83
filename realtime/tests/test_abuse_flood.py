"""A flooding client is throttled, then disconnected, and other clients see no delay beyond a
stated bound while it floods; an oversized message closes only the sender's connection."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from realtime.client import RealtimeClient

pytestmark = pytest.mark.django_db(transaction=True)

# The bound we promise: while one connection floods, another's round trip (event in, handler,
# publish through Redis, event and ack out) stays under this on the test machine.
MAX_ROUND_TRIP_SECONDS = 1.0


def test_it_throttles_then_disconnects_a_flooding_client_without_delaying_others(world, asgi_server, connect):
    calm = connect(world.token(world.bob))
    flooder = RealtimeClient(asgi_server.url, token=world.token(world.alice), reconnection=False)
    flooder.connect()
    flooder.wait_for("connection_status")
    done = threading.Event()
    sent = [0]

    def flood() -> None:
        try:
            while not done.is_set() and sent[0] < 5000:
                flooder.emit("echo", {"n": sent[0]})
                sent[0] += 1
        except Exception:  # noqa: S110 (the server hung up on us: expected)
            pass

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    round_trips = []
    try:
        for n in range(30):
            started = time.monotonic()
            assert calm.call("echo", {"n": n}, timeout=5)["ok"] is True
            round_trips.append(time.monotonic() - started)
    finally:
        flooder.wait_until(lambda: flooder.disconnects > 0, timeout=20, what="flooder disconnected")
        done.set()
        thread.join(10)
    errors = flooder.received("error")
    assert errors and {e["code"] for e in errors} == {"rate_limited"}
    echoed = len(flooder.received("test_event"))
    # the bucket let through a burst and the refill, not the flood
    assert echoed < sent[0] / 2, (echoed, sent[0])
    assert max(round_trips) < MAX_ROUND_TRIP_SECONDS, round_trips
    print(
        f"flood: sent={sent[0]} echoed={echoed} rate_limited_errors={len(errors)} "
        f"others_round_trip_median={statistics.median(round_trips) * 1000:.1f}ms max={max(round_trips) * 1000:.1f}ms"
    )
    assert calm.call("echo", {"n": 99})["ok"] is True


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_it_closes_the_connection_of_an_oversized_message(world, asgi_server, connect, transports, settings):
    calm = connect(world.token(world.bob))
    big = RealtimeClient(asgi_server.url, token=world.token(world.alice), reconnection=False, transports=transports)
    big.connect()
    big.wait_for("connection_status")
    big.emit("echo", {"n": 1, "text": "x" * (settings.SOCKETIO_MAX_HTTP_BUFFER_SIZE + 1024)})
    big.wait_until(lambda: big.disconnects > 0, timeout=30, what="oversized sender disconnected")
    assert not big.received("test_event")
    assert calm.call("echo", {"n": 2})["ok"] is True
