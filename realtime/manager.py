"""The client manager: python-socketio's Redis manager plus ordered replay on join.

When a returning client joins a room with the last sequence number it saw, live events for that
room are held back for that connection while the missed ones are read from the replay log and
sent; then the held events are sent, dropping any the replay already covered. The client sees
the room's events in order, without gaps and without duplicates. All of it runs on the server's
one event loop, so there is no lock: the hold-back list is checked and removed without an await
in between.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

from realtime import contract, eventlog, metrics
from realtime.fastpath import FastDeliveryMixin
from realtime.redis import async_client

log = logging.getLogger(__name__)


class RealtimeManager(FastDeliveryMixin, socketio.AsyncRedisManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (namespace, room) -> {sid: [held pub/sub messages]}; namespace as published (canonical)
        self._held: dict[tuple[str, str], dict[str, list[dict]]] = {}
        self._aliases: dict[str, list[str]] = {}
        # (namespace, room) -> (seq, epoch) of the room's last event delivered here (see _continuous)
        self._last: dict[tuple[str, str], tuple[int, str]] = {}
        for alias, canonical in contract.namespace_aliases().items():
            self._aliases.setdefault(canonical, []).append(alias)

    async def _handle_emit(self, message: dict) -> None:
        if message.get("host_id") == eventlog.EMITTER_HOST_ID:
            metrics.incr("events_received")
            if await self._continuous(message):
                await self._deliver_room_event(message)
            return
        await super()._handle_emit(message)

    async def _continuous(self, message: dict) -> bool:
        """Keep each room's events continuous on this process. Pub/sub is at-most-once: while
        this process's subscription reconnects (Redis restarted, or dropped a slow subscriber),
        events are published that it never hears of, and nothing tells its clients. So the last
        (seq, epoch) delivered per room with local members is remembered; a jump in seq is filled
        from the replay log before this message, and a new epoch (Redis lost the log) sends the
        room's members `resync_required`. Returns False when the message was already delivered."""
        ns, room = message.get("namespace"), message.get("room")
        try:
            meta = message["data"][0]["_meta"]
            seq, epoch = int(meta["seq"]), meta["epoch"]
        except (KeyError, IndexError, TypeError, ValueError):
            return True
        key = (ns, room)
        if not any(room in self.rooms.get(n, ()) for n in (ns, *self._aliases.get(ns, ()))):
            self._last.pop(key, None)  # no local members: nothing to keep continuous
            return True
        last = self._last.get(key)
        self._last[key] = (seq, epoch)
        if last is None:
            return True
        if epoch != last[1]:
            await self._resync_members(ns, room, "epoch_changed")
            return True
        if seq <= last[0]:
            self._last[key] = last
            metrics.incr("duplicates_dropped")
            return False
        if seq > last[0] + 1:
            missed = await eventlog.read_missed(async_client(), ns, room, since=last[0], epoch=epoch)
            if missed.resync:  # the log no longer covers the gap
                await self._resync_members(ns, room, missed.resync)
                return True
            gap = [m for m in missed.messages if m["data"][0]["_meta"]["seq"] < seq]
            log.warning("gap ns=%s room=%s seq %s..%s: %s refilled", ns, room, last[0] + 1, seq - 1, len(gap))
            metrics.incr("gaps_refilled", len(gap))
            for old in gap:
                self._last[key] = (old["data"][0]["_meta"]["seq"], epoch)
                await self._deliver_room_event(old)
            self._last[key] = (seq, epoch)
        return True

    async def _resync_members(self, ns: str, room: str, reason: str) -> None:
        metrics.incr("resyncs")
        log.warning("room lost continuity ns=%s room=%s reason=%s: members must resync", ns, room, reason)
        for n in (ns, *self._aliases.get(ns, ())):
            if room in self.rooms.get(n, ()):
                await self.emit(
                    "resync_required", {"room": room, "reason": reason}, namespace=n, room=room, ignore_queue=True
                )

    async def _deliver_room_event(self, message: dict) -> None:
        held = self._held.get((message.get("namespace"), message.get("room")))
        if held:
            for buffer in held.values():
                buffer.append(message)
            message = dict(message, skip_sid=list(held))
        await self._emit_to_aliases(message)
        await super()._handle_emit(message)

    async def _emit_to_aliases(self, message: dict) -> None:
        """Deliver a room event to clients of the namespace's aliases (seed 004's /ws)."""
        for alias in self._aliases.get(message.get("namespace"), ()):
            if message.get("room") in self.rooms.get(alias, {}):
                await self.deliver_local(
                    message["event"],
                    message["data"][0],
                    namespace=alias,
                    room=message["room"],
                    skip_sid=message.get("skip_sid"),
                )

    async def send_to_sid(self, sid: str, namespace: str, event: str, data: Any) -> None:
        await self.emit(event, data, namespace=namespace, room=sid, ignore_queue=True)

    async def join(
        self,
        sid: str,
        namespace: str,
        room: str,
        *,
        since: int | None = None,
        epoch: str | None = None,
        log_namespace: str | None = None,
    ) -> eventlog.Position:
        """Put `sid` in `room`. With `since`, first replay what it missed (or tell it to resync).
        `log_namespace` is the namespace the room's events are published in (an alias's target).

        Returns the room's position (sequence number and epoch) as of the join."""
        log_ns = log_namespace or namespace
        if since is None:
            await self.enter_room(sid, namespace, room)
            return await eventlog.read_position(async_client(), log_ns, room)
        key = (log_ns, room)
        buffer: list[dict] = []
        self._held.setdefault(key, {})[sid] = buffer
        try:
            await self.enter_room(sid, namespace, room)
            missed = await eventlog.read_missed(async_client(), log_ns, room, since=since, epoch=epoch)
            last = since
            if missed.resync:
                metrics.incr("resyncs")
                log.info("resync sid=%s ns=%s room=%s reason=%s", sid, namespace, room, missed.resync)
                await self.send_to_sid(sid, namespace, "resync_required", {"room": room, "reason": missed.resync})
                last = missed.head.seq
            for msg in missed.messages:
                await self.send_to_sid(sid, namespace, msg["event"], msg["data"][0])
                last = msg["data"][0]["_meta"]["seq"]
            metrics.incr("replayed", len(missed.messages))
            while buffer:
                msg = buffer.pop(0)
                seq = msg["data"][0]["_meta"]["seq"]
                if seq > last or missed.resync:
                    await self.send_to_sid(sid, namespace, msg["event"], msg["data"][0])
                    last = max(last, seq)
                else:
                    metrics.incr("duplicates_dropped")
            return missed.head
        finally:
            held = self._held.get(key)
            if held is not None:
                held.pop(sid, None)
                if not held:
                    del self._held[key]
