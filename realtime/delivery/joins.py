"""Joins with replay: a returning client gets what it missed, then the live events, in order.

When a client joins a room with the last sequence number it saw, live events for that room are
held back for that connection while the missed ones are read from the replay log and sent; then
the held events are sent, dropping any the replay already covered. The client sees the room's
events in order, without gaps and without duplicates. All of it runs on the server's one event
loop, so there is no lock: the hold-back list is checked and removed without an await in between.

The pub/sub stream may lag behind the join's read: in a flood the listener hands out a backlog a
few messages per loop turn, on its own connection, while the join's read (another connection)
came back and its replay already sent events the listener has not handed out yet. So when a
join's hold-back ends, the connection keeps a floor in the room: the seq (and epoch) it has been
sent up to. Live events at or below it are skipped for that connection; the first one above it
(pub/sub hands a room's events out in seq order) means the stream has caught up, and the floor
goes. With per-room channels this is what makes a room's first local member, whose join
subscribes while events keep coming, get each event once and in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from realtime import contract, eventlog, metrics
from realtime.delivery.continuity import seq_of
from realtime.redis import async_client

log = logging.getLogger(__name__)

SendToSid = Callable[[str, str, str, Any], Awaitable[None]]
SendLogged = Callable[[str, str, dict], Awaitable[None]]
EnterRoom = Callable[[str, str, str], Awaitable[None]]


class Joins:
    def __init__(self, enter_room: EnterRoom, send_to_sid: SendToSid, send_logged: SendLogged) -> None:
        self._enter_room = enter_room
        self._send_to_sid = send_to_sid
        self._send_logged = send_logged  # a logged event (replayed or held), encoded once for all
        # (namespace, room) -> {sid: [one buffer of held messages per join under way]};
        # namespace as published (canonical)
        self._held: dict[tuple[str, str], dict[str, list[list[dict]]]] = {}
        # (namespace, room) -> {sid: (seq, epoch) sent up to by its join}: see the module's docstring
        self._floors: dict[tuple[str, str], dict[str, tuple[int, str | None]]] = {}

    def hold(self, message: dict) -> dict:
        """The hold-back step: a room event for connections whose join is under way is kept for
        them (their join sends it in order) and skipped by the live delivery; so is one that a
        finished join already sent (at or below the connection's floor)."""
        key = (message.get("namespace"), message.get("room"))
        held, floors = self._held.get(key), self._floors.get(key)
        if not held and not floors:
            return message
        skip = list(held or ())
        for buffers in (held or {}).values():
            for buffer in buffers:
                buffer.append(message)
        if floors:
            skip += self._below_floor(key, floors, message)
        return dict(message, skip_sid=skip) if skip else message

    def _below_floor(self, key: tuple[str, str], floors: dict[str, tuple[int, str | None]], message: dict) -> list[str]:
        """The connections this message already reached through their join; the floors it passes
        are done with (the stream caught up with those joins)."""
        try:
            seq, epoch = seq_of(message), message["data"][0]["_meta"]["epoch"]
        except (KeyError, IndexError, TypeError):
            return []
        below = [sid for sid, (floor, at) in floors.items() if at == epoch and seq <= floor]
        if len(below) != len(floors):
            for sid in [sid for sid in floors if sid not in below]:
                del floors[sid]
            if not floors:
                del self._floors[key]
        if below:
            metrics.incr("duplicates_dropped", len(below))
        return below

    def forget(self, key: tuple[str, str]) -> None:
        """The room has no local member any more, or its members were told to resync: its
        floors go."""
        self._floors.pop(key, None)

    async def join(
        self, sid: str, namespace: str, room: str, since: int | None, epoch: str | None, log_namespace: str
    ) -> eventlog.Position:
        """Put `sid` in `room`. With `since`, first replay what it missed (or tell it to resync).
        `log_namespace` is the namespace the room's events are published in (an alias's target).

        Returns the room's position (sequence number and epoch) as of the join."""
        return (await self.join_many(sid, namespace, [(room, since, epoch)], log_namespace))[0]

    async def join_many(
        self, sid: str, namespace: str, rooms: list[tuple[str, int | None, str | None]], log_namespace: str
    ) -> list[eventlog.Position]:
        """`join` for several (room, since, epoch) at once: one Redis round trip reads (or creates)
        every room's position and the missed events of those with a `since` (a connection's
        welcome joins its user and tenant rooms and those it comes back with this way)."""
        held: list[tuple[tuple[str, str], list[dict]]] = []
        for room, since, _ in rooms:
            if since is not None:
                # A list per sid: the same connection may join the same room twice at once (the
                # welcome's join from `last_seen` and a `subscribe`); each join holds and drains
                # its own buffer.
                key, buffer = (log_namespace, room), []
                self._held.setdefault(key, {}).setdefault(sid, []).append(buffer)
                held.append((key, buffer))
        try:
            # At once: the rooms that get their first local member here subscribe to their
            # channels together (one SUBSCRIBE, one wait), before the log is read below.
            entered = await asyncio.gather(
                *(self._enter_room(sid, namespace, room) for room, _, _ in rooms), return_exceptions=True
            )
            failed = next((e for e in entered if isinstance(e, BaseException)), None)
            if failed is not None:
                raise failed
            # A room that never had an event gets its epoch now, so the position returned is one
            # the client can come back with (and be replayed what it missed while away).
            answers = await eventlog.ensure_many(async_client(), log_namespace, rooms)
            buffers = iter(held)
            for (room, since, _), (_, missed) in zip(rooms, answers, strict=True):
                if missed is not None and since is not None:
                    key, buffer = next(buffers)
                    sent_up_to = await self._replay(sid, namespace, log_namespace, room, since, missed, buffer)
                    # no await from the buffer's last message to here: the floor takes over
                    self._release(key, sid, buffer)
                    self._set_floor(key, sid, sent_up_to, missed.head.epoch)
            return [head for head, _ in answers]
        finally:
            for key, buffer in held:
                self._release(key, sid, buffer)

    def _set_floor(self, key: tuple[str, str], sid: str, seq: int, epoch: str | None) -> None:
        floors = self._floors.setdefault(key, {})
        current = floors.get(sid)
        if current is None or current[1] != epoch or current[0] < seq:
            floors[sid] = (seq, epoch)

    async def _replay(
        self, sid: str, namespace: str, log_namespace: str, room: str, since: int, missed: eventlog.Missed, buffer: list
    ) -> int:
        """Send what the client missed (or `resync_required`), then what was held meanwhile.
        Returns the seq it was sent up to."""
        last = since
        if missed.resync:
            metrics.incr("resyncs")
            log.info("resync sid=%s ns=%s room=%s reason=%s", sid, namespace, room, missed.resync)
            payload = {"room": room, "reason": missed.resync}
            contract.check_outgoing("resync_required", payload, log_namespace)
            await self._send_to_sid(sid, namespace, "resync_required", payload)
            last = missed.head.seq
        for msg in missed.messages:
            await self._send_logged(sid, namespace, msg)
            last = seq_of(msg)
        metrics.incr("replayed", len(missed.messages))
        while buffer:
            msg = buffer.pop(0)
            seq = seq_of(msg)
            if seq > last or missed.resync:
                await self._send_logged(sid, namespace, msg)
                last = max(last, seq)
            else:
                metrics.incr("duplicates_dropped")
        return last

    def _release(self, key: tuple[str, str], sid: str, buffer: list[dict]) -> None:
        held = self._held.get(key)
        buffers = held.get(sid) if held is not None else None
        if buffers is not None:
            buffers[:] = [b for b in buffers if b is not buffer]
            if not buffers:
                del held[sid]
            if not held:
                del self._held[key]
