"""In-process counters (emits, failures, deliveries, replays, resyncs, rate limits) and gauges
(live plain /ws/rooms/ connections).

Cheap enough for every emit; read by the stats endpoint and the ops page."""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counters: Counter[str] = Counter()
_gauges: Counter[str] = Counter()

WS_ROOMS_LIVE = "ws_rooms_connections"  # gauge: this process's open plain /ws/rooms/ connections
ROOMS_SUBSCRIBED = "rooms_subscribed"  # gauge: room channels this process subscribes to


def incr(name: str, amount: int = 1) -> None:
    with _lock:
        _counters[name] += amount


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counters)


def adjust(name: str, delta: int) -> None:
    """Move a gauge (a number that goes up and down, unlike the counters)."""
    with _lock:
        _gauges[name] += delta


def gauges() -> dict[str, int]:
    with _lock:
        return dict(_gauges)
