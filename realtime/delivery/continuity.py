"""Continuity: each room's events reach this process's members without a silent gap.

Pub/sub is at-most-once: while this process's subscription to a room's channel reconnects (Redis restarted, or
dropped a slow subscriber), events are published that it never hears of, and nothing tells its
clients. So the last (seq, epoch) delivered per room with local members is remembered here; a
jump in seq is filled from the replay log before the message, a new epoch (Redis lost the log)
or a seq that went back (Redis lost its last writes) tells the room's members to resync, and
after a room's channel is subscribed again it is brought up to its head (`catch_up_room`). When
its last local member leaves, the room is forgotten (`forget`): its channel is unsubscribed.

This step decides; it sends nothing. It answers with a `Verdict`: what the pipeline must tell
the room's members (a resync reason, or none) and which messages to deliver, in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from redis import exceptions as redis_exceptions

from realtime import eventlog, metrics
from realtime.redis import async_client

log = logging.getLogger(__name__)

CATCH_UP_ATTEMPTS = 5
JOINED_MAX = 10_000  # rooms remembered by `joined` before those left by every member are forgotten

Key = tuple[str, str]  # (namespace as published, room)


@dataclass
class Verdict:
    resync: str | None = None  # tell the members to resync first, for this reason
    deliver: list[dict] = field(default_factory=list)  # then deliver these, in order


def seq_of(message: dict) -> int:
    return message["data"][0]["_meta"]["seq"]


class Continuity:
    def __init__(self, has_local_members: Callable[[str, str], bool]) -> None:
        self._has_local_members = has_local_members
        # (namespace, room) -> (seq, epoch) of the room's last event delivered here
        self._last: dict[Key, tuple[int, str]] = {}
        # (namespace, room) -> (after, up to, epoch): seqs refilled by `catch_up` that may still
        # arrive over pub/sub (published between the re-subscription and the catch-up's read)
        self._refilled: dict[Key, tuple[int, int, str]] = {}
        # (namespace, room) -> (seq, epoch) as of the latest join here: where `catch_up` starts a
        # room that has members but had no event delivered yet (the event outbox publishes
        # deferred events exactly while servers re-subscribe after a Redis outage)
        self._joined: dict[Key, tuple[int, str]] = {}

    def joined(self, key: Key, position: eventlog.Position) -> None:
        if position.epoch is None:
            return
        self._joined[key] = (position.seq, position.epoch)
        if len(self._joined) > JOINED_MAX:
            self._joined = {k: v for k, v in self._joined.items() if self._has_local_members(*k)}

    async def admit(self, message: dict) -> Verdict:
        """What to do with a room event that just arrived over pub/sub."""
        ns, room = message.get("namespace"), message.get("room")
        try:
            meta = message["data"][0]["_meta"]
            seq, epoch = int(meta["seq"]), meta["epoch"]
        except (KeyError, IndexError, TypeError, ValueError):
            return Verdict(deliver=[message])
        key = (ns, room)
        if not self._has_local_members(ns, room):
            self._last.pop(key, None)  # no local members: nothing to keep continuous
            return Verdict(deliver=[message])
        last = self._last.get(key)
        self._last[key] = (seq, epoch)
        if last is None:
            return Verdict(deliver=[message])
        if epoch != last[1]:
            return Verdict("epoch_changed", [message])
        if seq <= last[0]:
            refilled = self._refilled.get(key)
            if refilled is not None and refilled[2] == epoch and refilled[0] < seq <= refilled[1]:
                # Published while the subscription was being restored: already refilled from the log.
                self._last[key] = last
                metrics.incr("duplicates_dropped")
                return Verdict()
            # One Lua script publishes a room's events in seq order, so pub/sub never repeats a
            # seq of the same epoch: Redis came back with older data (AOF everysec, RDB snapshot)
            # and the room's seq went backwards. What the members saw after that point is gone
            # from the log: they reload, and follow the room from this event.
            self._refilled.pop(key, None)
            return Verdict("rolled_back", [message])
        self._refilled.pop(key, None)
        if seq == last[0] + 1:
            return Verdict(deliver=[message])
        missed = await eventlog.read_missed(async_client(), ns, room, since=last[0], epoch=epoch)
        if missed.resync:  # the log no longer covers the gap
            return Verdict(missed.resync, [message])
        gap = [m for m in missed.messages if seq_of(m) < seq]
        log.warning("gap ns=%s room=%s seq %s..%s: %s refilled", ns, room, last[0] + 1, seq - 1, len(gap))
        metrics.incr("gaps_refilled", len(gap))
        return Verdict(deliver=[*gap, message])

    def forget(self, key: Key) -> None:
        """The room's last local member left (its channel is unsubscribed): no event of it arrives
        any more, so nothing here may carry over to its next first member, whose join replays
        from the log and whose first live event starts the room's continuity afresh."""
        self._last.pop(key, None)
        self._refilled.pop(key, None)
        self._joined.pop(key, None)

    async def catch_up_room(self, key: Key) -> Verdict | None:
        """After the room's channel was subscribed again: bring the room up to its head in Redis.
        Anything published from now on also arrives over pub/sub; what was refilled here is then
        dropped by `admit`. Returns what the pipeline must do for the room, if anything."""
        for attempt in range(1, CATCH_UP_ATTEMPTS + 1):
            try:
                return await self._catch_up_room(key)
            except redis_exceptions.ConnectionError:
                # the pool still holds connections from before the restart: each fails once
                if attempt == CATCH_UP_ATTEMPTS:
                    log.exception("catch-up failed ns=%s room=%s: its next event refills the gap", *key)
            except Exception:
                log.exception("catch-up failed ns=%s room=%s: its next event refills the gap", *key)
                return None
        return None

    async def _catch_up_room(self, key: Key) -> Verdict | None:
        ns, room = key
        joined = self._joined.pop(key, None)
        if key not in self._last:
            if joined is None:
                return None
            self._last[key] = joined
        seq, epoch = self._last[key]
        if not self._has_local_members(ns, room):
            self._last.pop(key, None)
            return None
        redis = async_client()
        head = await eventlog.read_position(redis, ns, room)
        resync = None
        if head.epoch is None:
            self._last.pop(key, None)
            return Verdict("epoch_changed")
        if head.epoch != epoch:
            resync, seq, epoch = "epoch_changed", 0, head.epoch
        elif head.seq < seq:
            self._last[key] = (head.seq, epoch)
            return Verdict("rolled_back")
        self._last[key] = (seq, epoch)
        if head.seq == seq:
            return Verdict(resync) if resync else None
        missed = await eventlog.read_missed(redis, ns, room, since=seq, epoch=epoch)
        if missed.resync:
            self._last[key] = (missed.head.seq, epoch)
            return Verdict(missed.resync)
        if missed.messages:
            self._last[key] = (seq_of(missed.messages[-1]), epoch)
        log.warning("caught up ns=%s room=%s after re-subscribing: %s refilled", ns, room, len(missed.messages))
        metrics.incr("gaps_refilled", len(missed.messages))
        self._refilled[key] = (seq, self._last[key][0], epoch)
        return Verdict(resync, missed.messages)
