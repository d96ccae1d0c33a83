"""Per-room pub/sub subscriptions of one server process (issue 11).

Each room's events are published on the room's own channel (`channels.room_channel`). A server
process subscribes to a room's channel when the room gets its first local member (in any
namespace or alias) and unsubscribes when the last one leaves, so it never reads, decodes or
discards the events of rooms it has nobody in. The broadcast channel (`channels.broadcast_channel`)
is always subscribed.

Rules that keep the manager's ordering, replay and catch-up promises:
  * `add()` returns once Redis confirmed the subscription: a join enters the room and reads its
    replay log after that, so every event is either in what it reads or arrives over pub/sub
    (and the manager's hold-back buffer drops the overlap). For a room already subscribed (or
    whose subscription is under way) `add()` sends nothing: no Redis round trip on the join.
  * One task sends the SUBSCRIBE / UNSUBSCRIBE commands, from the wanted set (`_changes`): a
    leave followed by a join of the same room can never reach Redis as SUBSCRIBE, UNSUBSCRIBE.
    A confirmation resolves a waiting `add()` only when it answers the last SUBSCRIBE sent for
    its channel (`_pending`).
  * A confirmation for a channel that was confirmed before (redis-py reconnected and subscribed
    again by itself, or the listen loop connected again) means events may have been published
    while it was not subscribed: `on_resubscribed(room)` runs the pipeline's catch-up for that
    room (delivery.continuity) before any later message of the channel is handed out.

The delivery pipeline owns one `Subscriptions` (`make()`), and realtime.compat.redis_manager's
`_listen` reads from `listen()`; nothing else subscribes to room channels.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import redis.asyncio as aioredis
from redis import exceptions as redis_exceptions

from realtime import metrics
from realtime.delivery.channels import RoomKey, broadcast_channel, room_channel

log = logging.getLogger(__name__)

# How long a join waits for its room's subscription to be confirmed before it fails (as it fails
# when Redis can't be reached for its replay read).
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
# Pub/sub messages handed out per event-loop turn at most. A burst (emit_many(), or any emitter
# ahead of the server) arrives in one socket read, and redis-py hands out buffered messages
# without yielding: without a limit the loop delivered the whole burst before the fast path's
# once-per-turn writes sent anything, so the clients sat idle while the server worked and then
# the other way round. Yielding every few messages sends each connection's frames in groups
# while the rest of the burst is delivered (order is kept: one task reads and delivers them).
MESSAGES_PER_TURN = 16

# Counter and gauge names (ops /metrics, per process).
ROOMS_SUBSCRIBED = metrics.ROOMS_SUBSCRIBED  # gauge
SUBSCRIBES = "room_subscribes"
UNSUBSCRIBES = "room_unsubscribes"
MESSAGES = "pubsub_messages"

MESSAGE_TYPES = frozenset({"message", "smessage"})
SUBSCRIBE_TYPES = frozenset({"subscribe", "ssubscribe"})


class Subscriptions:
    """The room channels one server process listens to, and the loop that listens."""

    def __init__(self, url: Callable[[], str], on_resubscribed: Callable[[RoomKey], Awaitable[None]]) -> None:
        self._url = url
        self._on_resubscribed = on_resubscribed
        self._wanted: dict[str, RoomKey] = {}  # channel -> room, for every room with local members
        self._ready: dict[str, asyncio.Future[None]] = {}  # channel -> its first confirmation
        self._confirmed: set[str] = set()  # confirmed at least once since wanted
        self._pending: dict[str, int] = {}  # SUBSCRIBEs sent on this connection, not confirmed yet
        self._sent: set[str] = set()  # subscribed on this connection, as far as commands sent go
        self._dirty: set[str] = set()  # channels whose wanted state changed since last sent
        self._wake: asyncio.Event | None = None

    # --- the manager's side: rooms gain their first / lose their last local member ---------------

    def is_subscribed(self, key: RoomKey) -> bool:
        return room_channel(*key) in self._wanted

    async def add(self, key: RoomKey) -> None:
        """Subscribe to the room's channel (if not yet) and return once Redis confirmed it."""
        channel = room_channel(*key)
        ready = self._ready.get(channel)
        if ready is None:
            ready = asyncio.get_running_loop().create_future()
            self._ready[channel] = ready
            self._wanted[channel] = key
            metrics.incr(SUBSCRIBES)
            metrics.adjust(ROOMS_SUBSCRIBED, 1)
            if self._still_subscribed(channel):
                # left and joined again before the UNSUBSCRIBE went out: it never will, and the
                # subscription confirmed on this connection stands
                ready.set_result(None)
                self._confirmed.add(channel)
            self._changed(channel)
        if ready.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(ready), SUBSCRIBE_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("subscription not confirmed in %s s ns=%s room=%s", SUBSCRIBE_TIMEOUT_SECONDS, *key)
            raise redis_exceptions.ConnectionError(
                f"the room's pub/sub subscription was not confirmed in {SUBSCRIBE_TIMEOUT_SECONDS} s"
            ) from None

    def discard(self, key: RoomKey) -> None:
        """Unsubscribe from the room's channel (not a coroutine: called where the last member
        left, from python-socketio's synchronous room bookkeeping)."""
        channel = room_channel(*key)
        if self._wanted.pop(channel, None) is None:
            return
        ready = self._ready.pop(channel, None)
        if ready is not None and not ready.done():
            ready.cancel()
        self._confirmed.discard(channel)
        metrics.incr(UNSUBSCRIBES)
        metrics.adjust(ROOMS_SUBSCRIBED, -1)
        self._changed(channel)

    def _still_subscribed(self, channel: str) -> bool:
        return channel in self._sent and not self._pending.get(channel)

    def _changed(self, channel: str) -> None:
        self._dirty.add(channel)
        if self._wake is not None:
            self._wake.set()

    # --- the listen loop ------------------------------------------------------------------------------

    async def listen(self) -> AsyncIterator[dict]:
        """The messages of the broadcast channel and of every wanted room channel, forever: the
        connection is made again after any failure (1 s, doubling up to 60 s)."""
        retry_sleep = 1
        while True:
            client = pubsub = sender = None
            try:
                client = aioredis.Redis.from_url(self._url())
                pubsub = client.pubsub(ignore_subscribe_messages=False)
                channels = [broadcast_channel(), *self._wanted]
                self._pending = dict.fromkeys(channels, 1)
                self._sent = set(self._wanted)
                self._dirty.clear()
                await pubsub.subscribe(*channels)
                self._wake = asyncio.Event()
                if self._dirty:  # rooms wanted (or left) while this connection was being made
                    self._wake.set()
                sender = asyncio.create_task(self._send_changes(pubsub))
                retry_sleep = 1
                handled = 0
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind in MESSAGE_TYPES:
                        metrics.incr(MESSAGES)
                        yield message
                        handled += 1
                        if handled % MESSAGES_PER_TURN == 0:
                            await asyncio.sleep(0)  # let this turn's writes go out
                    elif kind in SUBSCRIBE_TYPES:
                        await self._confirmation(message["channel"], self._pending)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("cannot receive from redis (%s): retrying in %s s", exc, retry_sleep)
                await asyncio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, 60)
            finally:
                self._wake = None
                self._sent, self._pending = set(), {}
                if sender is not None:
                    sender.cancel()
                await _close(pubsub, client)

    async def _confirmation(self, raw: bytes | str, pending: dict[str, int]) -> None:
        channel = raw.decode() if isinstance(raw, bytes) else raw
        left = pending.get(channel, 0) - 1
        if left > 0:  # a later SUBSCRIBE of this channel is still to be answered
            pending[channel] = left
            return
        pending.pop(channel, None)
        key = self._wanted.get(channel)
        if key is None:  # the broadcast channel, or a room no longer wanted
            return
        ready = self._ready.get(channel)
        if ready is not None and not ready.done():
            ready.set_result(None)
        if channel in self._confirmed:
            # subscribed again after a dropped connection: events may have gone unheard
            await self._on_resubscribed(key)
        self._confirmed.add(channel)

    async def _send_changes(self, pubsub: aioredis.client.PubSub) -> None:
        """The only sender of (UN)SUBSCRIBE on this connection: brings Redis to the wanted set."""
        wake = self._wake
        assert wake is not None
        while True:
            await wake.wait()
            wake.clear()
            dirty, self._dirty = self._dirty, set()
            subscribe = [ch for ch in dirty if ch in self._wanted and ch not in self._sent]
            unsubscribe = [ch for ch in dirty if ch not in self._wanted and ch in self._sent]
            try:
                if unsubscribe:
                    self._sent.difference_update(unsubscribe)
                    await pubsub.unsubscribe(*unsubscribe)
                if subscribe:
                    for ch in subscribe:
                        self._pending[ch] = self._pending.get(ch, 0) + 1
                    self._sent.update(subscribe)
                    await pubsub.subscribe(*subscribe)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The listen loop sees the broken connection too and subscribes everything wanted
                # on its next connection.
                log.warning("cannot change subscriptions (%s): the listen loop reconnects", exc)
                await _close(pubsub, None)
                return


async def _close(pubsub: aioredis.client.PubSub | None, client: aioredis.Redis | None) -> None:
    for closing in (pubsub, client):
        if closing is None:
            continue
        try:
            await closing.aclose()
        except Exception:  # noqa: S112 (already broken: nothing to release)
            continue


# --- Redis Cluster: sharded pub/sub, one connection per shard --------------------------------------------


class _Shard:
    """One master's SSUBSCRIBE connection: the room channels of its slots (and, on one of them,
    the broadcast channel, classic pub/sub: the cluster bus carries it to every node)."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name, self.host, self.port = name, host, port
        self.sent: set[str] = set()
        self.pending: dict[str, int] = {}
        self.dirty: set[str] = set()
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.broadcast = False


class ClusterSubscriptions(Subscriptions):
    """`Subscriptions` on a Redis Cluster (REALTIME_REDIS_CLUSTER): a room channel is subscribed
    with SSUBSCRIBE on the master that owns its slot, one connection per master. Each connection's
    messages and confirmations go through one queue, in the order read, so a room's catch-up runs
    after the events read before it. A slot that moves (Redis answers SUNSUBSCRIBE for it) or a
    master that fails (its connection breaks) sends its channels to their owner in a fresh slot
    map; the confirmation there is a re-subscription, and the room is caught up."""

    def __init__(self, url: Callable[[], str], on_resubscribed: Callable[[RoomKey], Awaitable[None]]) -> None:
        super().__init__(url, on_resubscribed)
        self._route: dict[str, str] = {}  # channel -> shard name
        self._shards: dict[str, _Shard] = {}
        self._queue: asyncio.Queue | None = None
        self._cluster: aioredis.RedisCluster | None = None

    def _still_subscribed(self, channel: str) -> bool:
        shard = self._shards.get(self._route.get(channel, ""))
        return shard is not None and channel in shard.sent and not shard.pending.get(channel)

    def _changed(self, channel: str) -> None:
        if self._cluster is None:
            return  # not listening yet: everything wanted is subscribed when it starts
        shard = self._shard_for(channel)
        if shard is not None:
            shard.dirty.add(channel)
            shard.wake.set()

    def _shard_for(self, channel: str) -> _Shard | None:
        name = self._route.get(channel)
        if name is None:
            assert self._cluster is not None
            try:
                node = self._cluster.get_node_from_key(channel)
            except Exception as exc:  # the slot map is being refreshed: the next refresh routes it
                log.warning("no cluster node for a room channel yet (%s)", exc.__class__.__name__)
                return None
            name = node.name
            self._route[channel] = name
            self._ensure_shard(name, node.host, node.port)
        return self._shards.get(name)

    def _ensure_shard(self, name: str, host: str, port: int) -> _Shard:
        shard = self._shards.get(name)
        if shard is None:
            shard = self._shards[name] = _Shard(name, host, port)
            if not any(s.broadcast for s in self._shards.values()):
                shard.broadcast = True
            shard.task = asyncio.get_running_loop().create_task(self._run_shard(shard))
        return shard

    async def listen(self) -> AsyncIterator[dict]:
        self._queue = asyncio.Queue()
        retry_sleep = 1
        while self._cluster is None:
            try:
                cluster = aioredis.RedisCluster.from_url(self._url())
                await cluster.initialize()
                await check_sharded_pubsub(cluster)
                self._cluster = cluster
                log.info("room channels on the Redis Cluster: %s masters", len(cluster.get_primaries()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("cannot reach the Redis Cluster (%s): retrying in %s s", exc, retry_sleep)
                await asyncio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, 60)
        for node in self._cluster.get_primaries():
            self._ensure_shard(node.name, node.host, node.port)
        for channel in list(self._wanted):
            self._changed(channel)
        handled = 0
        try:
            while True:
                kind, shard, message = await self._queue.get()
                if kind == "message":
                    metrics.incr(MESSAGES)
                    yield message
                    handled += 1
                    if handled % MESSAGES_PER_TURN == 0:
                        await asyncio.sleep(0)
                elif kind == "confirmed":
                    await self._confirmation(message, shard.pending)
        finally:
            for shard in self._shards.values():
                if shard.task is not None:
                    shard.task.cancel()
            await self._cluster.aclose()

    async def _run_shard(self, shard: _Shard) -> None:
        retry_sleep = 0.2
        while True:
            client = pubsub = sender = None
            try:
                client = aioredis.Redis(host=shard.host, port=shard.port, socket_connect_timeout=2)
                pubsub = client.pubsub(ignore_subscribe_messages=False)
                # connected before anything else sends on it: two senders racing to connect an
                # unconnected PubSub would each open a connection of their own
                await pubsub.connect()
                channels = [ch for ch, name in self._route.items() if name == shard.name and ch in self._wanted]
                shard.pending, shard.sent = dict.fromkeys(channels, 1), set(channels)
                shard.dirty.clear()
                if shard.broadcast:
                    await pubsub.subscribe(broadcast_channel())
                for channel in channels:  # one SSUBSCRIBE per channel: channels of several slots
                    await pubsub.ssubscribe(channel)
                sender = asyncio.create_task(self._send_shard_changes(shard, pubsub))
                log.info("cluster node %s: %s room channels subscribed", shard.name, len(channels))
                retry_sleep = 0.2
                async for message in self._shard_messages(pubsub):
                    kind = message.get("type")
                    if kind in MESSAGE_TYPES:
                        await self._queue.put(("message", shard, message))
                    elif kind in SUBSCRIBE_TYPES:
                        await self._queue.put(("confirmed", shard, message["channel"]))
                    elif kind == "sunsubscribe":
                        await self._lost(shard, message["channel"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cluster node %s: subscriptions lost (%s): following the slot map", shard.name, exc)
                await asyncio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, 5)
                if await self._reroute():
                    return  # this node no longer owns slots: its channels went elsewhere
            finally:
                if sender is not None:
                    sender.cancel()
                await _close(pubsub, client)

    async def _shard_messages(self, pubsub: aioredis.client.PubSub) -> AsyncIterator[dict]:
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is not None:
                yield message

    async def _lost(self, shard: _Shard, raw: bytes | str) -> None:
        """Redis unsubscribed a channel by itself: its slot moved to another node."""
        channel = raw.decode() if isinstance(raw, bytes) else raw
        if channel in shard.sent and channel in self._wanted:
            shard.sent.discard(channel)
            log.warning("cluster node %s gave up a room channel (slot moved): following it", shard.name)
            self._route.pop(channel, None)
            await self._refresh()
            self._changed(channel)

    async def _refresh(self) -> None:
        assert self._cluster is not None
        try:
            await self._cluster.nodes_manager.initialize()
        except Exception as exc:
            log.warning("cannot refresh the cluster's slot map (%s)", exc.__class__.__name__)

    async def _reroute(self) -> bool:
        """Send every wanted channel to its owner in a fresh slot map. True when a shard whose
        node owns nothing any more should stop (it was failed over)."""
        await self._refresh()
        assert self._cluster is not None
        primaries = {node.name: node for node in self._cluster.get_primaries()}
        for node in primaries.values():
            self._ensure_shard(node.name, node.host, node.port)
        for channel in list(self._wanted):
            try:
                owner = self._cluster.get_node_from_key(channel).name
            except Exception:  # noqa: S112 (not covered yet: the next failure reroutes it)
                continue
            if self._route.get(channel) != owner:
                old = self._shards.get(self._route.get(channel, ""))
                if old is not None:
                    old.sent.discard(channel)
                self._route[channel] = owner
                self._changed(channel)
        stale = [name for name in self._shards if name not in primaries]
        current = asyncio.current_task()
        stop_me = False
        for name in stale:
            shard = self._shards.pop(name)
            if shard.broadcast and self._shards:
                heir = next(iter(self._shards.values()))
                heir.broadcast = True
                heir.dirty.add(broadcast_channel())
                heir.wake.set()
            if shard.task is current:
                stop_me = True
            elif shard.task is not None:
                shard.task.cancel()
        return stop_me

    async def _send_shard_changes(self, shard: _Shard, pubsub: aioredis.client.PubSub) -> None:
        try:
            await self._send_shard_changes_forever(shard, pubsub)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # the shard's reader sees the broken connection too, and subscribes again on its next one
            log.warning("cluster node %s: cannot change subscriptions (%s)", shard.name, exc)
            await _close(pubsub, None)

    async def _send_shard_changes_forever(self, shard: _Shard, pubsub: aioredis.client.PubSub) -> None:
        while True:
            await shard.wake.wait()
            shard.wake.clear()
            dirty, shard.dirty = shard.dirty, set()
            if broadcast_channel() in dirty and shard.broadcast:
                await pubsub.subscribe(broadcast_channel())
            mine = [ch for ch in dirty if self._route.get(ch) == shard.name]
            for channel in dirty:
                if channel in shard.sent and (channel not in self._wanted or self._route.get(channel) != shard.name):
                    shard.sent.discard(channel)
                    await pubsub.sunsubscribe(channel)
            for channel in mine:
                if channel in self._wanted and channel not in shard.sent:
                    shard.pending[channel] = shard.pending.get(channel, 0) + 1
                    shard.sent.add(channel)
                    await pubsub.ssubscribe(channel)


async def check_sharded_pubsub(cluster: aioredis.RedisCluster) -> None:
    """Fail clearly when the cluster's Redis has no sharded pub/sub (Redis < 7)."""
    info = await cluster.info("server", target_nodes=aioredis.RedisCluster.RANDOM)
    version = info.get("redis_version", "0")
    if int(str(version).split(".")[0]) < 7:
        raise RuntimeError(f"REALTIME_REDIS_CLUSTER needs Redis 7 (sharded pub/sub); the cluster runs {version}")


def make(url: Callable[[], str], on_resubscribed: Callable[[RoomKey], Awaitable[None]]) -> Subscriptions:
    """The subscriptions object for this deployment: sharded on a Redis Cluster."""
    from django.conf import settings

    if settings.REALTIME_REDIS_CLUSTER:
        return ClusterSubscriptions(url, on_resubscribed)
    return Subscriptions(url, on_resubscribed)
