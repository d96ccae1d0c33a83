"""The delivery pipeline: every message this process receives for its connections, step by step.

The manager (realtime.compat.redis_manager) hands each pub/sub message to `receive`, and a
re-subscription to `resubscribed`; nothing else in the process delivers room events. A room
event published by emit() goes through, in this order:

  1. continuity   (delivery.continuity) gap fill from the replay log, epoch and roll-back checks:
                  what to tell the members (resync) and which messages to deliver, in order;
  2. hold-back    (delivery.joins) connections whose join is replaying get it from their join,
                  in order, and are skipped below;
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
from typing import TYPE_CHECKING

from realtime import contract, eventlog, metrics
from realtime.compat import backpressure, fastpath
from realtime.delivery.continuity import Continuity, Verdict
from realtime.delivery.joins import Joins

if TYPE_CHECKING:
    from realtime.compat.redis_manager import RealtimeManager

log = logging.getLogger(__name__)


class DeliveryPipeline:
    def __init__(self, manager: RealtimeManager) -> None:
        self.manager = manager
        self.aliases: dict[str, list[str]] = {}
        for alias, canonical in contract.namespace_aliases().items():
            self.aliases.setdefault(canonical, []).append(alias)
        self.continuity = Continuity(self.has_local_members)
        self.joins = Joins(manager.enter_room, manager.send_to_sid, fastpath.logged_delivery(manager))
        self.deliver_local = fastpath.local_delivery(manager)

    # --- entry points ------------------------------------------------------------------------------

    async def receive(self, message: dict) -> None:
        """One message from pub/sub (or from python-socketio's own emit on this process)."""
        if message.get("host_id") != eventlog.EMITTER_HOST_ID:
            await self._deliver(message, [message.get("namespace") or "/"])
            return
        metrics.incr("events_received")
        verdict = await self.continuity.admit(message)
        await self._apply(message.get("namespace"), message.get("room"), verdict)

    async def resubscribed(self) -> None:
        """The pub/sub subscription is back: bring every room with local members up to date."""
        async for namespace, room, verdict in self.continuity.catch_up():
            await self._apply(namespace, room, verdict)

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
