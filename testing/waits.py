"""Waiting with a timeout, never a bare sleep: for a condition, for a room to be drained, for
server processes' counters."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import redis


def wait_until(condition: Callable[[], object], *, timeout: float, what: str) -> None:
    """Poll a condition that has no event to wait on (a Redis key's expiry, a row's state)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.1)


def drain(client, room: str, *, namespace: str = "/") -> None:
    """Everything sent to `room` on `namespace` so far has reached `client`: a marker emitted now
    arrives after it. Assert that a client got nothing only after this (a bare `== []` straight
    after another client's event passes by luck when the stray event is merely late)."""
    from realtime.emit import emit

    marker = uuid.uuid4().int % 2**31
    emit("test_event", {"n": marker, "source": "drain"}, room=room, namespace=namespace)
    client.wait_for(
        "test_event",
        lambda d: d.get("n") == marker and d["_meta"]["room"] == room,
        namespace=namespace,
        timeout=10,
    )


def server_counters(redis_url: str, *, since: float | None = None, timeout: float = 10) -> dict[str, int]:
    """The counters of every live server process on this Redis, summed (ops.process_stats keys).
    With `since`, waits until each process has published numbers newer than that."""
    conn = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while True:
        snapshots = [json.loads(raw) for raw in (conn.get(k) for k in conn.scan_iter("ops:proc:*")) if raw]
        fresh = since is None or all(s["updated_at"] > since for s in snapshots)
        if fresh or time.monotonic() > deadline:
            totals: dict[str, int] = {}
            for snap in snapshots:
                for name, value in snap.get("counters", {}).items():
                    totals[name] = totals.get(name, 0) + value
            return totals
        time.sleep(0.1)  # the processes publish on their own clock; nothing to wait on


def process_snapshots(redis_url: str, pids: set[int], since: float, *, interval: float) -> dict[int, dict]:
    """pid -> the ops snapshot (ops.process_stats) each of these server processes published after
    `since`. Fails the test when they don't within 10 s (stale numbers would make its assertions
    meaningless). The processes write them every PROCESS_INTERVAL (`interval`); no event says one
    was written: poll."""
    import pytest

    conn = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 10
    while True:
        snaps = [json.loads(conn.get(k) or b"{}") for k in conn.scan_iter("ops:proc:*")]
        snaps = [s for s in snaps if s and int(s["process"].rsplit(":", 1)[1]) in pids]
        if len(snaps) == len(pids) and all(s["updated_at"] > since for s in snaps):
            return {int(s["process"].rsplit(":", 1)[1]): s for s in snaps}
        if time.monotonic() > deadline:
            pytest.fail(f"the server processes did not publish fresh numbers within 10 s: {snaps}")
        time.sleep(interval / 5)


def counter_delta(before: dict[str, int], after: dict[str, int], name: str) -> int:
    return after.get(name, 0) - before.get(name, 0)
