"""The periodic statistics loop: every server process runs it; exactly one emits.

Each server process publishes its own numbers every OPS_PROCESS_INTERVAL_SECONDS
(process_stats.py). Every OPS_STATS_INTERVAL_SECONDS each process tries to hold the leader
lock (`SET ops:stats-leader <process> NX PX 3*interval`, renewed by its holder with a
compare-and-set script); the holder collects the totals (stats.collect, in a thread: it reads
the database and RQ) and emits `statistics_update`, `status_update` and `instances_update` to
the `staff` room through realtime's emit path (replay log, sequence numbers). When the leader
dies, its lock expires and another process takes over within three intervals.

Why in the server processes and not an RQ cron job: the numbers must keep flowing while the
queue is backed up (that is when ops look at them), and no extra process is needed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from django.db import close_old_connections, connection

from ops import conf, keys, process_stats, stats
from realtime.emit import STAFF_ROOM, aemit
from realtime.redis import async_client

log = logging.getLogger(__name__)

RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""


async def is_leader(me: str, ttl_ms: int) -> bool:
    return bool(await async_client().eval(RENEW_SCRIPT, 1, keys.LEADER, me, ttl_ms))


def _collect_in_thread() -> dict[str, Any]:
    close_old_connections()
    try:
        return stats.collect()
    finally:
        connection.close()  # a background thread: don't leave its connection open


async def emit_statistics(loop_count: int) -> dict[str, Any]:
    data = await asyncio.to_thread(_collect_in_thread)
    await aemit("statistics_update", data, room=STAFF_ROOM)
    await aemit(
        "status_update",
        {
            "monitoring_active": True,
            "loop_count": loop_count,
            "active_instances": data["active_instances"],
            "timestamp": data["timestamp"],
        },
        room=STAFF_ROOM,
    )
    instances = [{**p, "kind": "server"} for p in data["processes"]] + [
        {"process": w["name"], "kind": "worker", "state": w["state"]} for w in data["workers"]
    ]
    await aemit("instances_update", {"instances": instances}, room=STAFF_ROOM)
    return data


async def run(sio: Any) -> None:
    """Started once per server process on its event loop; runs until the process ends."""
    me = process_stats.process_id()
    next_stats = time.monotonic()
    loop_count = 0
    log.info("ops statistics loop started process=%s", me)
    while True:
        try:
            await process_stats.publish(sio)
            if time.monotonic() >= next_stats:
                interval = conf.stats_interval()
                next_stats = time.monotonic() + interval
                if await is_leader(me, int(interval * 3000)):
                    loop_count += 1
                    await emit_statistics(loop_count)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis or the database away: say so, keep going
            log.warning("ops statistics loop: %s: %s", exc.__class__.__name__, str(exc)[:200])
        await asyncio.sleep(min(conf.process_interval(), max(0.05, next_stats - time.monotonic())))
