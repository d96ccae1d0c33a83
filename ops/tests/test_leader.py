"""Exactly one server process emits statistics_update: the holder of the leader lock, which it
renews; when it is gone (its lock expired), another process takes over."""

from __future__ import annotations

import asyncio

from ops import keys
from ops.loop import is_leader
from realtime.redis import sync_client


def test_it_lets_one_process_lead_and_another_take_over():
    async def scenario() -> list[bool]:
        results = [await is_leader("server-a", 10_000), await is_leader("server-b", 10_000)]
        results.append(await is_leader("server-a", 10_000))  # the holder renews
        ttl = sync_client().pttl(keys.LEADER)
        results.append(5_000 < ttl <= 10_000)
        sync_client().delete(keys.LEADER)  # what expiry does when server-a dies
        results += [await is_leader("server-b", 10_000), await is_leader("server-a", 10_000)]
        return results

    sync_client().delete(keys.LEADER)
    try:
        assert asyncio.run(scenario()) == [True, False, True, True, True, False]
    finally:
        sync_client().delete(keys.LEADER)
