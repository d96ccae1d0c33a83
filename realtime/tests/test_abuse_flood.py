"""A flooding client is throttled, then disconnected, and other clients see no delay beyond a
stated bound while it floods; an oversized message closes only the sender's connection."""

from __future__ import annotations

import statistics
import threading
import time

import pytest
from django.conf import settings

from realtime.client import RealtimeClient
from testing.counts import record_counts

pytestmark = pytest.mark.django_db(transaction=True)

# The bound we promise: while one connection floods, another's round trip (event in, handler,
# publish through Redis, event and ack out) stays under this on the test machine.
MAX_ROUND_TRIP_SECONDS = 1.0


# Round trips of the calm client that count: taken entirely while a flooder was sending and not
# yet disconnected. A flood lasts a fraction of a second (the limiter disconnects it), so
# flooders follow one another until this many samples were taken during floods.
MIN_SAMPLES_DURING_FLOOD = 20
CALM_FRACTION_OF_LIMIT_INTERVAL = 1.25  # the calm client sends at 80 % of the rate limit
MAX_FLOODERS = 40


def flood(flooder: RealtimeClient, deadline: float) -> tuple[int, float, float]:
    """Send as fast as possible until the server hangs up; returns (sent, started, ended), the
    flood's window as seen from the client (ended: when it could no longer send)."""
    sent = 0
    started = time.monotonic()
    try:
        while flooder.disconnects == 0 and flooder.sio.connected and time.monotonic() < deadline:
            flooder.emit("echo", {"n": sent})
            sent += 1
    except Exception:  # noqa: S110 (the server hung up on us: expected)
        pass
    return sent, started, time.monotonic()


def test_it_throttles_then_disconnects_a_flooding_client_without_delaying_others(world, asgi_server, connect):
    calm = connect(world.token(world.bob))
    samples: list[tuple[float, float]] = []  # (started, ended) of each calm round trip
    failures: list[BaseException] = []
    stop = threading.Event()

    # The calm client keeps within the rate limit (its own bucket never empties): a client that
    # calls back to back as fast as the server answers is a flooder too, and is refused.
    interval = CALM_FRACTION_OF_LIMIT_INTERVAL / settings.SOCKETIO_RATE_LIMIT_PER_SECOND

    def measure() -> None:
        n = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                answer = calm.call("echo", {"n": n}, timeout=5)
                assert answer["ok"] is True, answer
            except BaseException as exc:  # reported by the test below
                failures.append(exc)
                return
            samples.append((started, time.monotonic()))
            n += 1
            stop.wait(max(0.0, started + interval - time.monotonic()))  # the calm client's pace

    windows: list[tuple[float, float]] = []
    totals = {"sent": 0, "echoed": 0, "rate_limited_errors": 0}

    def during_flood() -> list[float]:
        return [end - start for start, end in samples if any(a <= start and end <= b for a, b in windows)]

    meter = threading.Thread(target=measure, daemon=True)
    meter.start()
    try:
        for _ in range(MAX_FLOODERS):
            flooder = RealtimeClient(asgi_server.url, token=world.token(world.alice), reconnection=False)
            flooder.connect()
            flooder.wait_for("connection_status")
            sent, started, ended = flood(flooder, time.monotonic() + 20)
            flooder.wait_until(lambda f=flooder: f.disconnects > 0, timeout=20, what="flooder disconnected")
            windows.append((started, ended))
            errors = flooder.received("error")
            assert errors and {e["code"] for e in errors} == {"rate_limited"}
            echoed = len(flooder.received("test_event"))
            assert echoed < sent / 2, (echoed, sent)  # the bucket let through a burst, not the flood
            totals["sent"] += sent
            totals["echoed"] += echoed
            totals["rate_limited_errors"] += len(errors)
            if len(during_flood()) >= MIN_SAMPLES_DURING_FLOOD:
                break
    finally:
        stop.set()
        meter.join(10)
    assert not failures, failures
    round_trips = during_flood()
    assert len(round_trips) >= MIN_SAMPLES_DURING_FLOOD, (len(round_trips), len(samples), len(windows))
    assert max(round_trips) < MAX_ROUND_TRIP_SECONDS, round_trips
    record_counts(
        "flood",
        {
            "flooders": len(windows),
            **totals,
            "flood_seconds": round(sum(b - a for a, b in windows), 3),
            "others_samples_during_flood": len(round_trips),
            "others_round_trip_median_ms": round(statistics.median(round_trips) * 1000, 1),
            "others_round_trip_max_ms": round(max(round_trips) * 1000, 1),
        },
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
