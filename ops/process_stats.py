"""A server process's own numbers, published to Redis every few seconds (with a TTL).

Each Socket.IO server process knows only its own connections and rooms, so each one writes a
snapshot of them under `ops:proc:<host>:<pid>` with a TTL of three intervals and records itself
in the `ops:procs` sorted set; the collector (stats.py) sums the live ones. A process that dies
simply stops refreshing its key and drops out within the TTL.

`run(sio)` is started on the server's event loop by realtime.server (REALTIME_SERVER_TASKS):
it publishes this process's numbers and takes its turn at the statistics loop (loop.py).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections import Counter, defaultdict
from typing import Any

from ops import conf, keys
from realtime import metrics, sessions
from realtime.compat import fastpath
from realtime.redis import async_client

log = logging.getLogger(__name__)

STARTED_AT = time.time()
MAX_USERS_PER_TENANT = 200


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _is_room(name: Any) -> bool:
    # python-socketio puts every sid in a room of its own name; ours look like 'kind:id' or 'staff'
    return isinstance(name, str) and (":" in name or name == "staff")


def snapshot(sio: Any) -> dict[str, Any]:
    """This process's connections per namespace (and plain /ws/rooms/ ones), room sizes, presence
    and counters.

    Runs on the server's loop without an await, so the manager's dicts don't change under it."""
    connections: dict[str, int] = {}
    room_sizes: dict[str, int] = {}
    for namespace, rooms in sio.manager.rooms.items():
        connections[namespace] = len(rooms.get(None, ()))
        for room, members in rooms.items():
            if _is_room(room) and members:
                room_sizes[f"{namespace} {room}"] = len(members)
    presence: dict[str, set[str]] = defaultdict(set)
    users: set[int] = set()
    for session in sessions.live():  # both protocols: Socket.IO and /ws/rooms/
        identity = session.identity
        users.add(identity.user_id)
        if identity.tenant_id is not None:
            presence[str(identity.tenant_id)].add(identity.username)
    return {
        "process": process_id(),
        "role": "server",
        "started_at": STARTED_AT,
        "updated_at": time.time(),
        "connections": connections,
        "users_online": len(users),
        "rooms": room_sizes,
        "presence": {tenant: sorted(names)[:MAX_USERS_PER_TENANT] for tenant, names in presence.items()},
        "ws_rooms_connections": metrics.gauges().get(metrics.WS_ROOMS_LIVE, 0),
        "rooms_subscribed": metrics.gauges().get(metrics.ROOMS_SUBSCRIBED, 0),
        "counters": dict(Counter(metrics.snapshot())),
        "fastpath": fastpath.status(),
    }


async def publish(sio: Any) -> dict[str, Any]:
    data = snapshot(sio)
    ttl = conf.process_interval() * 3
    redis = async_client()
    pipe = redis.pipeline(transaction=False)
    pipe.set(keys.PROCESS_PREFIX + data["process"], json.dumps(data, separators=(",", ":")), px=int(ttl * 1000))
    pipe.zadd(keys.PROCESSES, {data["process"]: time.time() + ttl})
    pipe.zremrangebyscore(keys.PROCESSES, "-inf", time.time())
    await pipe.execute()
    return data
