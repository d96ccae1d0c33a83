"""Redis clients for the realtime layer: one sync client per process, one async client per loop,
and per loop a separate async client for commands that block (XREAD BLOCK)."""

from __future__ import annotations

import asyncio
import threading
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings

_lock = threading.Lock()
_sync: redis.Redis | None = None
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()
_blocking: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()
_broadcast: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()

CLIENT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 15}
# A Redis Cluster client (REALTIME_REDIS_CLUSTER): health checks are per node connection there too.
CLUSTER_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
BLOCKING_SOCKET_TIMEOUT = 15  # blocking_client(): its commands block for at most 5 s (XREAD BLOCK)


def realtime_url() -> str:
    """The Redis of the realtime data (sequence numbers, replay logs, room channels, presence and
    process stats): REALTIME_REDIS_URL, or REDIS_URL when that is empty (one Redis for all)."""
    return settings.REALTIME_REDIS_URL or settings.REDIS_URL


def is_cluster() -> bool:
    return settings.REALTIME_REDIS_CLUSTER


def sync_client() -> redis.Redis:
    """Thread-safe (a connection pool) and fork-safe (redis-py resets the pool in a child)."""
    global _sync
    if _sync is None:
        with _lock:
            if _sync is None:
                if is_cluster():
                    _sync = redis.RedisCluster.from_url(realtime_url(), **CLUSTER_OPTIONS)
                else:
                    _sync = redis.Redis.from_url(realtime_url(), **CLIENT_OPTIONS)
    return _sync


def async_client() -> aioredis.Redis:
    """An asyncio client bound to the running loop (asyncio connections can't cross loops)."""
    loop = asyncio.get_running_loop()
    client = _async.get(loop)
    if client is None and is_cluster():
        client = aioredis.RedisCluster.from_url(
            realtime_url(), max_connections=settings.REALTIME_REDIS_POOL_SIZE, **CLUSTER_OPTIONS
        )
        _async[loop] = client
    if client is None:
        # A blocking pool: a burst of connecting clients waits for a free connection instead of
        # failing with MaxConnectionsError.
        size = settings.REALTIME_REDIS_POOL_SIZE
        pool = aioredis.BlockingConnectionPool.from_url(
            realtime_url(), max_connections=size, timeout=5, **CLIENT_OPTIONS
        )
        client = aioredis.Redis(connection_pool=pool)
        _async[loop] = client
    return client


def blocking_client() -> aioredis.Redis:
    """An asyncio client for commands that hold their connection while they wait (XREAD BLOCK:
    the plain WebSocket consumer's readers), bound to the running loop. Its pool is not the one
    `async_client()` shares: each blocked reader needs a connection of its own, and taking them
    from the shared, bounded pool let a few hundred idle readers starve joins, replay and
    aemit() of every connection. This pool is not capped: one connection per reader, up to
    Redis's `maxclients`."""
    loop = asyncio.get_running_loop()
    client = _blocking.get(loop)
    if client is None and is_cluster():
        client = aioredis.RedisCluster.from_url(
            realtime_url(), **{**CLUSTER_OPTIONS, "socket_timeout": BLOCKING_SOCKET_TIMEOUT}
        )
        _blocking[loop] = client
    if client is None:
        # Its reads wait up to the command's BLOCK on purpose: the socket timeout must outlast it
        # by far, or a busy loop turns a normal empty XREAD into a TimeoutError (issue 21).
        client = aioredis.Redis.from_url(
            realtime_url(), **{**CLIENT_OPTIONS, "socket_timeout": BLOCKING_SOCKET_TIMEOUT}
        )
        _blocking[loop] = client
    return client


def broadcast_client() -> aioredis.Redis:
    """A client for classic pub/sub outside the room channels (revocations), bound to the running
    loop: the async client on a single Redis; on a Redis Cluster a plain client of the node
    REALTIME_REDIS_URL names (the cluster bus carries a classic PUBLISH to every node, and
    redis-py's cluster client has no asyncio PubSub)."""
    if not is_cluster():
        return async_client()
    loop = asyncio.get_running_loop()
    client = _broadcast.get(loop)
    if client is None:
        client = _broadcast[loop] = aioredis.Redis.from_url(realtime_url(), **CLIENT_OPTIONS)
    return client
