"""Joins with replay: a returning client gets what it missed, then the live events, in order.

When a client joins a room with the last sequence number it saw, live events for that room are
held back for that connection while the missed ones are read from the replay log and sent; then
the held events are sent, dropping any the replay already covered. The client sees the room's
events in order, without gaps and without duplicates. All of it runs on the server's one event
loop, so there is no lock: the hold-back list is checked and removed without an await in between.
"""

from __future__ import annotations

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

    def hold(self, message: dict) -> dict:
        """The hold-back step: a room event for connections whose join is under way is kept for
        them (their join sends it in order) and skipped by the live delivery."""
        held = self._held.get((message.get("namespace"), message.get("room")))
        if not held:
            return message
        for buffers in held.values():
            for buffer in buffers:
                buffer.append(message)
        return dict(message, skip_sid=list(held))

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
            for room, _, _ in rooms:
                await self._enter_room(sid, namespace, room)
            # A room that never had an event gets its epoch now, so the position returned is one
            # the client can come back with (and be replayed what it missed while away).
            answers = await eventlog.ensure_many(async_client(), log_namespace, rooms)
            buffers = iter(buffer for _, buffer in held)
            for (room, since, _), (_, missed) in zip(rooms, answers, strict=True):
                if missed is not None and since is not None:
                    await self._replay(sid, namespace, log_namespace, room, since, missed, next(buffers))
            return [head for head, _ in answers]
        finally:
            for key, buffer in held:
                self._release(key, sid, buffer)

    async def _replay(
        self, sid: str, namespace: str, log_namespace: str, room: str, since: int, missed: eventlog.Missed, buffer: list
    ) -> None:
        """Send what the client missed (or `resync_required`), then what was held meanwhile."""
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

    def _release(self, key: tuple[str, str], sid: str, buffer: list[dict]) -> None:
        held = self._held.get(key)
        buffers = held.get(sid) if held is not None else None
        if buffers is not None:
            buffers[:] = [b for b in buffers if b is not buffer]
            if not buffers:
                del held[sid]
            if not held:
                del self._held[key]
