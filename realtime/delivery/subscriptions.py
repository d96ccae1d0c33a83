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
    while it was not subscribed: `on_resubscribed(room)` runs the manager's catch-up for that room
    before any later message of the channel is handed out.
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
# Pub/sub messages handed out per event-loop turn at most (see realtime.manager).
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
        self._connected = False

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
            if channel in self._sent and not self._pending.get(channel):
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
                        await self._confirmation(message["channel"])
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

    async def _confirmation(self, raw: bytes | str) -> None:
        channel = raw.decode() if isinstance(raw, bytes) else raw
        left = self._pending.get(channel, 0) - 1
        if left > 0:  # a later SUBSCRIBE of this channel is still to be answered
            self._pending[channel] = left
            return
        self._pending.pop(channel, None)
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
