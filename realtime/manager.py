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
from collections.abc import AsyncIterator
from typing import Any

import socketio
from redis import exceptions as redis_exceptions

from realtime import contract, eventlog, metrics
from realtime.delivery import subscriptions
from realtime.fastpath import FastDeliveryMixin
from realtime.redis import async_client, realtime_url

log = logging.getLogger(__name__)

CATCH_UP_ATTEMPTS = 5


class RealtimeManager(FastDeliveryMixin, socketio.AsyncRedisManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (namespace, room) -> {sid: [one buffer of held pub/sub messages per join under way]};
        # namespace as published (canonical)
        self._held: dict[tuple[str, str], dict[str, list[list[dict]]]] = {}
        self._aliases: dict[str, list[str]] = {}
        # (namespace, room) -> (seq, epoch) of the room's last event delivered here (see _continuous)
        self._last: dict[tuple[str, str], tuple[int, str]] = {}
        # (namespace, room) -> (after, up to, epoch): seqs refilled by `_catch_up_room` that may still
        # arrive over pub/sub (published between the re-subscription and the catch-up's read)
        self._refilled: dict[tuple[str, str], tuple[int, int, str]] = {}
        self._canonical = contract.namespace_aliases()  # alias -> the namespace it publishes in
        for alias, canonical in self._canonical.items():
            self._aliases.setdefault(canonical, []).append(alias)
        # Per-room channels (issue 11): subscribed while a room has local members or joins under way.
        self.subscriptions = subscriptions.make(realtime_url, self._catch_up_room_with_retries)
        self._joining: dict[tuple[str, str], int] = {}

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
        if not self._has_local_members(ns, room):
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
            refilled = self._refilled.get(key)
            if refilled is not None and refilled[2] == epoch and refilled[0] < seq <= refilled[1]:
                # Published while the subscription was being restored: already refilled from the log.
                self._last[key] = last
                metrics.incr("duplicates_dropped")
                return False
            # One Lua script publishes a room's events in seq order, so pub/sub never repeats a
            # seq of the same epoch: Redis came back with older data (AOF everysec, RDB snapshot)
            # and the room's seq went backwards. What the members saw after that point is gone
            # from the log: they reload, and follow the room from this event.
            self._refilled.pop(key, None)
            await self._resync_members(ns, room, "rolled_back")
            return True
        self._refilled.pop(key, None)
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

    def _has_local_members(self, ns: str, room: str) -> bool:
        return any(room in self.rooms.get(n, ()) for n in (ns, *self._aliases.get(ns, ())))

    async def _redis_listen_with_retries(self) -> AsyncIterator[dict]:
        """The broadcast channel and the channels of the rooms with local members (see
        realtime.delivery.subscriptions: reconnects, and catches a room up each time its
        subscription is confirmed again)."""
        async for message in self.subscriptions.listen():
            yield message

    async def _listen(self) -> AsyncIterator[bytes]:
        async for message in self._redis_listen_with_retries():
            yield message["data"]

    # --- a room's first local member subscribes to its channel, its last one unsubscribes -------------

    def _room_key(self, namespace: str, room: Any) -> tuple[str, str] | None:
        if not isinstance(room, str) or room == "" or self.is_sid_room(namespace, room):
            return None
        return (self._canonical.get(namespace, namespace), room)

    async def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        key = self._room_key(namespace, room)
        if key is None or sid in self.rooms.get(namespace, {}).get(room, ()):
            return await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._joining[key] = self._joining.get(key, 0) + 1
        try:
            await self.subscriptions.add(key)  # no round trip when the room is already subscribed
            return await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        finally:
            left = self._joining.pop(key) - 1
            if left:
                self._joining[key] = left
            self._release_room(key)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        # every way out of a room (leave_room, disconnect, close_room) comes through here
        super().basic_leave_room(sid, namespace, room)
        key = self._room_key(namespace, room) if room != sid else None
        if key is not None:
            self._release_room(key)

    def _release_room(self, key: tuple[str, str]) -> None:
        if key not in self._joining and not self._has_local_members(*key):
            self.subscriptions.discard(key)
            # nothing to keep continuous any more (and no event of it arrives to say so)
            self._last.pop(key, None)
            self._refilled.pop(key, None)

    async def _catch_up_room_with_retries(self, key: tuple[str, str]) -> None:
        """After a room's subscription was confirmed again: bring the room up to its head in
        Redis. Anything published from now on also arrives over pub/sub; those already refilled
        here are dropped (`_refilled`). A room whose epoch changed (Redis lost the log) or whose
        seq went back (Redis lost its last writes) has its members told to resync."""
        for attempt in range(1, CATCH_UP_ATTEMPTS + 1):
            try:
                await self._catch_up_room(key)
                return
            except redis_exceptions.ConnectionError:
                # the pool still holds connections from before the restart: each fails once
                if attempt == CATCH_UP_ATTEMPTS:
                    log.exception("catch-up failed ns=%s room=%s: its next event refills the gap", *key)
            except Exception:
                log.exception("catch-up failed ns=%s room=%s: its next event refills the gap", *key)
                return

    async def _catch_up_room(self, key: tuple[str, str]) -> None:
        ns, room = key
        if key not in self._last:
            return
        seq, epoch = self._last[key]
        if not self._has_local_members(ns, room):
            self._last.pop(key, None)
            return
        redis = async_client()
        head = await eventlog.read_position(redis, ns, room)
        if head.epoch is None:
            await self._resync_members(ns, room, "epoch_changed")
            self._last.pop(key, None)
            return
        if head.epoch != epoch:
            await self._resync_members(ns, room, "epoch_changed")
            seq, epoch = 0, head.epoch
        elif head.seq < seq:
            await self._resync_members(ns, room, "rolled_back")
            self._last[key] = (head.seq, epoch)
            return
        self._last[key] = (seq, epoch)
        if head.seq == seq:
            return
        missed = await eventlog.read_missed(redis, ns, room, since=seq, epoch=epoch)
        if missed.resync:
            await self._resync_members(ns, room, missed.resync)
            self._last[key] = (missed.head.seq, epoch)
            return
        for old in missed.messages:
            self._last[key] = (old["data"][0]["_meta"]["seq"], epoch)
            await self._deliver_room_event(old)
        log.warning("caught up ns=%s room=%s after re-subscribing: %s refilled", ns, room, len(missed.messages))
        metrics.incr("gaps_refilled", len(missed.messages))
        self._refilled[key] = (seq, self._last[key][0], epoch)

    async def _resync_members(self, ns: str, room: str, reason: str) -> None:
        metrics.incr("resyncs")
        log.warning("room lost continuity ns=%s room=%s reason=%s: members must resync", ns, room, reason)
        payload = {"room": room, "reason": reason}
        contract.check_outgoing("resync_required", payload, ns)
        for n in (ns, *self._aliases.get(ns, ())):
            if room in self.rooms.get(n, ()):
                await self.emit("resync_required", payload, namespace=n, room=room, ignore_queue=True)

    async def _deliver_room_event(self, message: dict) -> None:
        held = self._held.get((message.get("namespace"), message.get("room")))
        if held:
            for buffers in held.values():
                for buffer in buffers:
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
            # A room that never had an event gets its epoch now, so the position returned is one
            # the client can come back with (and be replayed what it missed while away).
            return await eventlog.ensure_position(async_client(), log_ns, room)
        key = (log_ns, room)
        buffer: list[dict] = []
        # A list per sid: the same connection may join the same room twice at once (the welcome's
        # join from `last_seen` and a `subscribe`); each join holds and drains its own buffer.
        self._held.setdefault(key, {}).setdefault(sid, []).append(buffer)
        try:
            await eventlog.ensure_position(async_client(), log_ns, room)
            await self.enter_room(sid, namespace, room)
            missed = await eventlog.read_missed(async_client(), log_ns, room, since=since, epoch=epoch)
            last = since
            if missed.resync:
                metrics.incr("resyncs")
                log.info("resync sid=%s ns=%s room=%s reason=%s", sid, namespace, room, missed.resync)
                payload = {"room": room, "reason": missed.resync}
                contract.check_outgoing("resync_required", payload, log_ns)
                await self.send_to_sid(sid, namespace, "resync_required", payload)
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
            buffers = held.get(sid) if held is not None else None
            if buffers is not None:
                buffers[:] = [b for b in buffers if b is not buffer]
                if not buffers:
                    del held[sid]
                if not held:
                    del self._held[key]
