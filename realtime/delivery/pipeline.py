"""The delivery pipeline: every message this process receives for its connections, step by step.

The manager (realtime.compat.redis_manager) hands each pub/sub message to `receive`; nothing else
in the process delivers room events. The pipeline also owns this process's pub/sub subscriptions
(delivery.subscriptions): a room's channel is subscribed when the room gets its first local member
(`entering`, before the join reads the replay log) and unsubscribed when its last one leaves
(`left`); a room's channel subscribed again after a dropped connection catches the room up
(`resubscribed_room`). A room
event published by emit() goes through, in this order:

  1. continuity   (delivery.continuity) gap fill from the replay log, epoch and roll-back checks:
                  what to tell the members (resync) and which messages to deliver, in order;
  2. hold-back    (delivery.joins) connections whose join is replaying get it from their join,
                  in order, and are skipped below; so are those a finished join already sent
                  it to (the stream lagging behind the join's read: the join's floor);
  3. aliases      the namespace's aliases (seed 004's `/ws`) get it too;
  4. deliver      encoded once per namespace and written to each member's connection
                  (compat.fastpath), or python-socketio's own path (REALTIME_FASTPATH=0, binary
                  payloads, emits that wait for a callback); a member holding more than
                  SOCKETIO_MAX_BUFFERED_BYTES unsent is cut off (compat.backpressure);
  5. metrics      events received, deliveries.

Messages python-socketio publishes itself (the server's own `sio.emit` to a room or a
namespace, callbacks) skip steps 1 to 3.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from realtime import contract, eventlog, metrics
from realtime.compat import backpressure, fastpath
from realtime.delivery import subscriptions
from realtime.delivery.channels import RoomKey
from realtime.delivery.continuity import Continuity, Verdict
from realtime.delivery.joins import Joins
from realtime.redis import realtime_url

if TYPE_CHECKING:
    from realtime.compat.redis_manager import RealtimeManager

log = logging.getLogger(__name__)


class DeliveryPipeline:
    def __init__(self, manager: RealtimeManager) -> None:
        self.manager = manager
        self.aliases: dict[str, list[str]] = {}
        self.canonical = contract.namespace_aliases()  # alias -> the namespace it publishes in
        for alias, canonical in self.canonical.items():
            self.aliases.setdefault(canonical, []).append(alias)
        self.continuity = Continuity(self.has_local_members)
        self.joins = Joins(manager.enter_room, manager.send_to_sid, fastpath.logged_delivery(manager))
        self.deliver_local = fastpath.local_delivery(manager)
        self.subscriptions = subscriptions.make(realtime_url, self.resubscribed_room)
        self._entering: dict[RoomKey, int] = {}  # rooms with joins between subscribing and entering

    # --- entry points ------------------------------------------------------------------------------

    async def receive(self, message: dict) -> None:
        """One message from pub/sub (or from python-socketio's own emit on this process)."""
        if message.get("host_id") != eventlog.EMITTER_HOST_ID:
            await self._deliver(message, [message.get("namespace") or "/"])
            return
        metrics.incr("events_received")
        verdict = await self.continuity.admit(message)
        await self._apply(message.get("namespace"), message.get("room"), verdict)

    async def resubscribed_room(self, key: RoomKey) -> None:
        """The room's channel is subscribed again (Redis restarted, dropped this subscriber, or
        the room's cluster slot moved): bring the room's local members up to date."""
        verdict = await self.continuity.catch_up_room(key)
        if verdict is not None:
            await self._apply(*key, verdict)

    # --- room channels: subscribed while the room has local members --------------------------------

    def room_key(self, namespace: str, room: Any) -> RoomKey | None:
        """(namespace as published, room) for a room that has a channel; None for the rooms
        python-socketio keeps per connection (None, the sid's own room)."""
        if not isinstance(room, str) or room == "" or self.manager.is_sid_room(namespace, room):
            return None
        return (self.canonical.get(namespace, namespace), room)

    @asynccontextmanager
    async def entering(self, sid: str, namespace: str, room: Any) -> AsyncIterator[None]:
        """Around python-socketio's enter_room: a room's first local member subscribes to its
        channel and waits for Redis's confirmation before entering (a join reads the replay log
        after it enters, so every event is in what it reads or arrives live; the hold-back and
        the join's floor drop the overlap). A room already subscribed, or being subscribed, costs no Redis round trip."""
        key = self.room_key(namespace, room)
        if key is None or sid in self.manager.rooms.get(namespace, {}).get(room, ()):
            yield
            return
        self._entering[key] = self._entering.get(key, 0) + 1
        try:
            await self.subscriptions.add(key)
            yield
        finally:
            left = self._entering.pop(key) - 1
            if left:
                self._entering[key] = left
            self._release(key)

    def left(self, sid: str, namespace: str, room: Any) -> None:
        """A connection left a room (leave, disconnect, close): its last local member unsubscribes."""
        key = self.room_key(namespace, room) if room != sid else None
        if key is not None:
            self._release(key)

    def _release(self, key: RoomKey) -> None:
        if key not in self._entering and not self.has_local_members(*key):
            self.subscriptions.discard(key)
            self.continuity.forget(key)
            self.joins.forget(key)

    async def join(
        self, sid: str, namespace: str, room: str, *, since: int | None, epoch: str | None, log_namespace: str
    ) -> eventlog.Position:
        """Put a connection in a room, replaying from `since` (see delivery.joins)."""
        position = await self.joins.join(sid, namespace, room, since, epoch, log_namespace)
        self.continuity.joined((log_namespace, room), position)
        return position

    async def join_many(
        self, sid: str, namespace: str, rooms: list[tuple[str, int | None, str | None]], log_namespace: str
    ) -> list[eventlog.Position]:
        """Several joins in one Redis round trip (see delivery.joins)."""
        positions = await self.joins.join_many(sid, namespace, rooms, log_namespace)
        for (room, _, _), position in zip(rooms, positions, strict=True):
            self.continuity.joined((log_namespace, room), position)
        return positions

    def has_local_members(self, namespace: str, room: str) -> bool:
        rooms = self.manager.rooms
        return any(room in rooms.get(ns, ()) for ns in (namespace, *self.aliases.get(namespace, ())))

    # --- steps -------------------------------------------------------------------------------------

    async def _apply(self, namespace: str, room: str, verdict: Verdict) -> None:
        if verdict.resync:
            # the members take the room's next events whatever their seq (Redis may have rolled
            # back below a join's floor): no floor may skip them
            self.joins.forget((namespace, room))
            await self._resync_members(namespace, room, verdict.resync)
        for message in verdict.deliver:
            message = self.joins.hold(message)
            await self._deliver(message, [message.get("namespace") or "/", *self.aliases.get(namespace, ())])

    async def _deliver(self, message: dict, namespaces: list[str]) -> None:
        room = message.get("room")
        if isinstance(room, str):
            rooms = self.manager.rooms
            metrics.incr("deliveries", sum(len(rooms.get(ns, {}).get(room, ())) for ns in namespaces))
        if message.get("callback") or message.get("binary"):
            await self.manager.library_handle_emit(message)  # python-socketio's: callbacks, attachments
            return
        data = message["data"]
        if isinstance(data, list):
            data = data[0] if len(data) == 1 else tuple(data)
        token = backpressure.delivering_room.set(room)  # named if a connection is cut off meanwhile
        try:
            for namespace in reversed(namespaces):  # aliases first, as before the pipeline
                await self.deliver_local(message["event"], data, namespace, room, message.get("skip_sid"))
        finally:
            backpressure.delivering_room.reset(token)

    async def _resync_members(self, namespace: str, room: str, reason: str) -> None:
        metrics.incr("resyncs")
        log.warning("room lost continuity ns=%s room=%s reason=%s: members must resync", namespace, room, reason)
        payload = {"room": room, "reason": reason}
        contract.check_outgoing("resync_required", payload, namespace)
        for ns in (namespace, *self.aliases.get(namespace, ())):
            if room in self.manager.rooms.get(ns, ()):
                await self.manager.emit("resync_required", payload, namespace=ns, room=room, ignore_queue=True)
