"""The session service: one authenticated connection, whichever protocol carries it.

Both client-facing protocols (realtime.protocols: the Socket.IO namespaces and the plain
`/ws/rooms/` WebSocket) are thin adapters over this. A `Session` is opened on the handshake
(who is it: realtime.auth; how many connections it may hold: realtime.caps) and closed with its
connection; in between it answers what both protocols ask the same way:

* `own_rooms()`, `check_leave()`   the user and tenant rooms a connection is always in, and may
                                   not leave;
* `authorize(room)`                may it join this room (realtime.rooms, in the database, each time);
* `replay(...)`                    what it missed in a room since a position (realtime.eventlog);
* `throttle()`                     the per-connection token bucket and what to do when it is empty;
* token expiry                     a JWT connection is told `token_expired` and ends at `exp`;
* `spawn(...)`                     background work tied to the connection: kept, and cancelled
                                   when the connection ends;
* revocation                       a session is registered with realtime.revocation while open: it
                                   is told (`revoke`, `revoke_room`) when its access is taken away,
                                   on any server; `catch_up()` after a join applies what came
                                   while the join was under way.

What the session needs from its protocol is a `Transport`: send an error, end the connection,
the rooms it is in and leaving one.
`live()` lists this process's open sessions (ops presence).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Coroutine, Iterator
from typing import Any, Protocol

from django.conf import settings

from realtime import caps, eventlog, metrics, revocation, rooms
from realtime.auth import Identity, Refused, identify
from realtime.compat import backpressure
from realtime.emit import tenant_room, user_room
from realtime.redis import async_client

log = logging.getLogger(__name__)

# A connection's rate-limit strikes are forgotten after this long without one: strikes count a
# flood (rejections in a row), not the occasional burst of a connection that lives for days.
STRIKE_RESET_SECONDS = 10.0
TELL_EVERY_STRIKES = 20  # a flooding client is told once per this many refused events


class Transport(Protocol):
    """What a protocol adapter gives its session."""

    async def send_error(self, code: str, message: str, room: str | None = None) -> None:
        """Tell the client, in the protocol's own way (an `error` event, an error frame); `room`:
        the room the error is about."""

    async def end(self, code: str) -> None:
        """End the connection for the reason `code` (after `send_error`)."""

    def rooms(self) -> set[str]:
        """The rooms the connection is in (canonical names)."""

    async def leave(self, room: str) -> None:
        """Stop sending the connection the room's events."""


class TokenBucket:
    __slots__ = ("tokens", "stamp", "strikes", "last_strike")

    def __init__(self, now: float | None = None) -> None:
        self.tokens = float(settings.SOCKETIO_RATE_LIMIT_BURST)
        self.stamp = time.monotonic() if now is None else now
        self.strikes = 0
        self.last_strike = self.stamp

    def take(self, now: float | None = None) -> bool:
        """Take a token for one client event (`now`: a time.monotonic() value, for tests). False
        when the bucket is empty: a strike, counted since the last quiet period."""
        now = time.monotonic() if now is None else now
        self.tokens = min(
            float(settings.SOCKETIO_RATE_LIMIT_BURST),
            self.tokens + (now - self.stamp) * settings.SOCKETIO_RATE_LIMIT_PER_SECOND,
        )
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        if now - self.last_strike >= STRIKE_RESET_SECONDS:
            self.strikes = 0
        self.strikes += 1
        self.last_strike = now
        return False


class Throttled(enum.Enum):
    """What to do with a client event, by the connection's token bucket."""

    NO = "no"  # handle it
    REFUSE = "refuse"  # refuse it (an ack with ok: false), without an `error` event each time
    TELL = "tell"  # refuse it and tell the client to slow down
    DISCONNECT = "disconnect"  # a flood: end the connection


_live: set[Session] = set()


def live() -> Iterator[Session]:
    """This process's open sessions, both protocols."""
    return iter(list(_live))


class Session:
    def __init__(self, identity: Identity, lease: caps.Lease | None, transport: Transport, protocol: str) -> None:
        self.identity = identity
        self.protocol = protocol
        self._lease = lease
        self._transport = transport
        self._bucket = TokenBucket()
        self._tasks: set[asyncio.Task] = set()
        self._expiry: asyncio.TimerHandle | None = None
        self.closed = False
        self.ending = False  # revoked: its connection is being ended (protocols start nothing new)
        self._revocations_seen = revocation.generation()
        self.slow = False

    @classmethod
    async def open(
        cls,
        environ: dict[str, Any],
        auth: Any,
        transport: Transport,
        *,
        protocol: str,
        session_origin: str | None = None,
    ) -> Session:
        """Authenticate a handshake and take a connection lease; raises `Refused` (with its code).

        `session_origin`: the handshake's Origin, for a protocol whose server does not check it
        itself (a session-cookie connection must come from an allowed origin)."""
        revocations_seen = revocation.generation()  # one applied while we authenticate: catch_up()
        identity = await identify(environ, auth)
        if (
            session_origin is not None
            and identity.via == "session"
            and session_origin not in settings.SOCKETIO_ALLOWED_ORIGINS
        ):
            raise Refused("forbidden_origin", "session connections must come from an allowed origin")
        lease = await caps.take(identity.user_id, caps.client_address(environ.get("asgi.scope") or {}))
        session = cls(identity, lease, transport, protocol)
        session._revocations_seen = revocations_seen
        session._start_expiry()
        _live.add(session)
        revocation.register(session)
        return session

    async def close(self) -> None:
        """The connection ended: stop its timers and tasks, give its lease back. Idempotent."""
        if self.closed:
            return
        self.closed = True
        _live.discard(self)
        revocation.unregister(self)
        if self._expiry is not None:
            self._expiry.cancel()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        await caps.release(self._lease)
        self._lease = None

    # --- rooms -------------------------------------------------------------------------------------

    def own_rooms(self) -> list[str]:
        """The rooms a connection joins on connect and stays in: its user's and tenant's."""
        identity = self.identity
        return [user_room(identity.user_id)] + ([tenant_room(identity.tenant_id)] if identity.tenant_id else [])

    def check_leave(self, room: str) -> None:
        if room in self.own_rooms():
            raise rooms.Forbidden("forbidden", "you cannot leave your own user or tenant room")

    async def authorize(self, room: str) -> rooms.RoomKind:
        """May this connection join `room`? Asked in the database, every time (rooms.Forbidden)."""
        return await rooms.check(self.identity, room)

    @staticmethod
    async def replay(namespace: str, room: str, since: int, epoch: str | None) -> eventlog.Missed:
        """What a room's log holds after `since` (or why the client must resync)."""
        return await eventlog.read_missed(async_client(), namespace, room, since=since, epoch=epoch)

    @staticmethod
    async def position(namespace: str, room: str) -> eventlog.Position:
        return await eventlog.read_position(async_client(), namespace, room)

    # --- revocation (realtime.revocation.Revocable) ------------------------------------------------

    def rooms(self) -> set[str]:
        return self._transport.rooms()

    async def revoke(self, code: str, message: str) -> None:
        """Access is gone: leave every room first (nothing of them arrives after the error), tell
        the client why, end the connection."""
        if self.closed or self.ending:
            return
        self.ending = True
        for room in self.rooms():
            await self._transport.leave(room)
        await self._transport.send_error(code, message)
        log.info("revoked via=%s user=%s code=%s", self.protocol, self.identity.user_id, code)
        await self._transport.end(code)

    async def revoke_room(self, room: str, code: str, message: str) -> None:
        """Access to `room` is gone: leave it, then tell the client (`error` with `room`)."""
        await self._transport.leave(room)
        await self._transport.send_error(code, message, room)
        log.info("room revoked via=%s user=%s room=%s", self.protocol, self.identity.user_id, room)

    async def catch_up(self) -> bool:
        """Apply the revocations this process saw since the last catch-up (or the handshake) to
        this session: call it once the connection is established and after each join, which may
        have been authorized just before its access was taken away. False when it was closed."""
        since, self._revocations_seen = self._revocations_seen, revocation.generation()
        if since != self._revocations_seen:
            await revocation.apply_missed(self, since)
        return not self.closed

    # --- client events -----------------------------------------------------------------------------

    def throttle(self) -> Throttled:
        bucket = self._bucket
        if bucket.take():
            return Throttled.NO
        metrics.incr("rate_limited")
        if bucket.strikes > settings.SOCKETIO_RATE_LIMIT_BURST * 5:
            log.warning("disconnect flooding client via=%s user=%s", self.protocol, self.identity.user_id)
            return Throttled.DISCONNECT
        if bucket.strikes % TELL_EVERY_STRIKES == 1:
            return Throttled.TELL
        return Throttled.REFUSE

    # --- slow consumers ------------------------------------------------------------------------------

    def cut_off(self, room: str | None) -> None:
        """The connection held more than SOCKETIO_MAX_BUFFERED_BYTES unsent and is being closed
        (realtime.compat.backpressure): counted and logged, once per connection."""
        if self.slow:
            return
        self.slow = True
        backpressure.report(self.protocol, self.identity.user_id, room)

    # --- background work and expiry ----------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Run `work` for this connection; cancelled when the connection ends."""
        task = asyncio.get_running_loop().create_task(work, name=f"{name} user={self.identity.user_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _start_expiry(self) -> None:
        expires_at = self.identity.expires_at
        if expires_at is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, expires_at - time.time())
        self._expiry = loop.call_later(delay, lambda: self.spawn(self._expire(), "expiry"))

    async def _expire(self) -> None:
        log.info("disconnect on token expiry via=%s user=%s", self.protocol, self.identity.user_id)
        await self._transport.send_error("token_expired", "token has expired")
        await self._transport.end("token_expired")
