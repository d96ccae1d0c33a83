"""Connection caps per user and per client address, across every server process.

Each live connection (a Socket.IO namespace connection, or a plain /ws/rooms/ connection) holds a
lease in two Redis sorted sets, `rt:conns:{<channel>}:user:<id>` and `…:addr:<address>`, scored by
the lease's expiry. Taking a lease drops the expired ones first, so a server process that died
without releasing its connections stops counting against anyone within LEASE_SECONDS; a live
process renews its leases every RENEW_SECONDS. Over a cap the connection is refused with code
`too_many_connections` (SOCKETIO_MAX_CONNECTIONS_PER_USER / _PER_ADDRESS; 0 turns a cap off).

The address is the peer of the ASGI server (scope["client"]); behind a proxy that is the proxy's
unless the ASGI server is told to trust its forwarded-for header (daphne --proxy-headers)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from redis.exceptions import RedisError

from realtime import metrics
from realtime.auth import Refused
from realtime.redis import async_client

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
RENEW_SECONDS = 20
REFUSED_CODE = "too_many_connections"
PROCESS = f"{socket.gethostname()}:{os.getpid()}"

# KEYS: user set, address set. ARGV: member, now, expiry, user cap, address cap (0: no cap).
# Returns 0 when taken, 1 when the user's cap is reached, 2 when the address's is.
_TAKE = """
for i = 1, 2 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[2]) end
local user_cap, addr_cap = tonumber(ARGV[4]), tonumber(ARGV[5])
if user_cap > 0 and redis.call('ZCARD', KEYS[1]) >= user_cap then return 1 end
if addr_cap > 0 and redis.call('ZCARD', KEYS[2]) >= addr_cap then return 2 end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[i], math.ceil(ARGV[3] - ARGV[2]) + 1)
end
return 0
"""


class CapReached(Refused):
    def __init__(self, scope: str, cap: int) -> None:
        super().__init__(REFUSED_CODE, f"too many connections for this {scope} (at most {cap})")
        self.scope = scope


@dataclass(frozen=True)
class Lease:
    member: str
    keys: tuple[str, str]


_leases: dict[str, Lease] = {}
_renewers: set[asyncio.AbstractEventLoop] = set()


def _keys(user_id: int, address: str) -> tuple[str, str]:
    """Per SOCKETIO_CHANNEL: deployments that share a Redis but not their rooms count apart. The
    channel is the keys' hash tag: the check script's two keys are in one Redis Cluster slot."""
    prefix = f"rt:conns:{{{settings.SOCKETIO_CHANNEL}}}"
    return (f"{prefix}:user:{user_id}", f"{prefix}:addr:{address or 'unknown'}")


async def take(user_id: int, address: str) -> Lease | None:
    """A lease for one more connection of this user from this address, or CapReached. None when
    both caps are off, or when Redis did not answer (the connection is let in uncounted: it could
    not get its rooms without Redis anyway, and a Redis hiccup must not lock everyone out)."""
    user_cap, addr_cap = settings.SOCKETIO_MAX_CONNECTIONS_PER_USER, settings.SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS
    if not user_cap and not addr_cap:
        return None
    keys = _keys(user_id, address)
    member = f"{PROCESS}:{uuid.uuid4().hex}"
    now = time.time()
    try:
        result = await async_client().eval(_TAKE, 2, *keys, member, now, now + LEASE_SECONDS, user_cap, addr_cap)
    except RedisError as exc:
        log.warning("connection caps not checked (Redis): %s user=%s", exc.__class__.__name__, user_id)
        return None
    if result:
        scope, cap = ("user", user_cap) if result == 1 else ("address", addr_cap)
        metrics.incr(f"connections_capped_{scope}")
        log.info("connection refused: %s cap of %d reached user=%s", scope, cap, user_id)
        raise CapReached(scope, cap)
    lease = Lease(member, keys)
    _leases[member] = lease
    _start_renewer()
    return lease


async def release(lease: Lease | None) -> None:
    if lease is None or _leases.pop(lease.member, None) is None:
        return
    try:
        redis = async_client()
        for key in lease.keys:
            await redis.zrem(key, lease.member)
    except Exception as exc:  # the lease then expires by itself
        log.warning("connection lease not released (expires in %d s): %s", LEASE_SECONDS, exc.__class__.__name__)


def _start_renewer() -> None:
    loop = asyncio.get_running_loop()
    if loop not in _renewers:
        _renewers.add(loop)
        loop.create_task(_renew_forever())


async def _renew_forever() -> None:
    while True:
        await asyncio.sleep(RENEW_SECONDS)  # a period, not a synchronisation
        try:
            await renew()
        except Exception as exc:
            log.warning("connection leases not renewed: %s", exc.__class__.__name__)


async def renew() -> None:
    """Push this process's leases' expiry forward."""
    leases = list(_leases.values())
    if not leases:
        return
    expiry = time.time() + LEASE_SECONDS
    async with async_client().pipeline(transaction=False) as pipe:
        for lease in leases:
            for key in lease.keys:
                pipe.zadd(key, {lease.member: expiry}, xx=True)
                pipe.expire(key, LEASE_SECONDS + 1)
        await pipe.execute()


def client_address(scope: dict) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""
