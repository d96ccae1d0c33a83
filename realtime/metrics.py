"""In-process counters (emits, failures, deliveries, replays, resyncs, rate limits).

Cheap enough for every emit; read by the stats endpoint and the ops page."""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counters: Counter[str] = Counter()


def incr(name: str, amount: int = 1) -> None:
    with _lock:
        _counters[name] += amount


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counters)
