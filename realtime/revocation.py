"""Losing access takes effect on live connections, on every server process (issue 17).

A change that removes access (accounts/signals.py: logout, password, deactivation, tenant, staff
flag, project membership, API token, JWT cutoff, user deleted) publishes ONE `Command` on the
Redis pub/sub channel `<SOCKETIO_CHANNEL>:revoke` after its transaction commits, from whatever
process made it (a view, the admin, a shell, a job). Every server process runs `listen` (settings
REALTIME_SERVER_TASKS) and applies each command to its own live connections, which are in this
module's registry while open (realtime.sessions.Session: `register` when the handshake is
accepted, `unregister` when the connection ends; both protocols):

- action "close": the matching connections get `error {code}` and are closed (`access_revoked`,
  `token_revoked`, `session_expired`);
- action "recheck": each room a matching connection is in is authorized again with its room kind's
  own `authorize` (realtime.rooms: apps register their kinds, so a project's job and run rooms
  are re-checked by jobs/ and automation/, not named here); a room no longer allowed gets
  `error {code: "room_revoked", room}` and the connection leaves it.

A connection that was authenticated, or a room that was joined, while a command was on its way
is not missed: the session notes `generation()` before it authenticates, and its `catch_up()`
(once the connection is established, and after each join) calls `apply_missed`, which applies the
commands this process saw since then (kept for RECENT_SECONDS).

Durable: `publish` also writes the command to the database (realtime.models.RevocationCommand), in
the transaction of the change, and every server reads the commands written since its last look
every REALTIME_REVOCATION_POLL_SECONDS (`poll`). A command whose publish failed (Redis down or
hung: the publish waits at most REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS) or that a server's
subscription missed (it was reconnecting) still takes effect, a poll interval later. A command
arriving both ways is applied once (its row id). A polled command applies to the connections
registered before it was made (plus COMMIT_MARGIN_SECONDS for its transaction's commit): a
connection made after a late command's change is not closed for it.

A session-authenticated connection also ends when its session expires: `register` starts a timer
on the session's expiry date (read from the session store), re-read then (a session may have been
extended) and closed with `session_expired` once it is gone or past.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from importlib import import_module
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from realtime import metrics, outbox, rooms
from realtime.auth import Identity
from realtime.models import RevocationCommand
from realtime.redis import broadcast_client, realtime_url

log = logging.getLogger(__name__)

ACCESS_REVOKED = "access_revoked"
ROOM_REVOKED = "room_revoked"
TOKEN_REVOKED = "token_revoked"
SESSION_EXPIRED = "session_expired"

RECENT_SECONDS = 30.0  # commands kept for connections/joins that were under way when they came
SESSION_RECHECK_MAX_SECONDS = 3600.0  # a session's expiry is read again at least this often
LISTEN_RETRY_MAX_SECONDS = 5.0
POLL_LOOKBACK_SECONDS = 120.0  # a poll reads the commands written this recently (commit delays)
COMMIT_MARGIN_SECONDS = 10.0  # a polled command applies to connections registered up to this after it
PRUNE_EVERY_SECONDS = 60.0


def channel() -> str:
    return f"{settings.SOCKETIO_CHANNEL}:revoke"


class Revocable(Protocol):
    """A live connection of either protocol (realtime.sessions.Session, over a Socket.IO namespace
    connection or a /ws/rooms/ consumer)."""

    identity: Identity

    def rooms(self) -> set[str]:
        """The rooms this connection is in (canonical names)."""
        ...

    async def revoke(self, code: str, message: str) -> None:
        """Send `error {code, message}`, then close the connection."""
        ...

    async def revoke_room(self, room: str, code: str, message: str) -> None:
        """Send `error {code, message, room}`, then leave the room."""
        ...


@dataclass(frozen=True)
class Command:
    action: str  # "close" or "recheck"
    user_id: int
    code: str
    message: str
    via: str | None = None  # only connections authenticated this way ("jwt", "api_token", "session")
    session_key: str | None = None
    api_token_id: int | None = None
    jwt_issued_before: float | None = None  # JWT connections whose `iat` is at or before this
    sent_at: float = field(default_factory=time.time)  # for the change -> effect time in the log
    id: int | None = None  # its RevocationCommand row: applied once, however it arrives

    def matches(self, identity: Identity) -> bool:
        if identity.user_id != self.user_id:
            return False
        if self.via is not None and identity.via != self.via:
            return False
        if self.session_key is not None and identity.session_key != self.session_key:
            return False
        if self.api_token_id is not None and identity.api_token_id != self.api_token_id:
            return False
        if self.jwt_issued_before is not None:
            return identity.via == "jwt" and (identity.issued_at or 0.0) <= self.jwt_issued_before
        return True

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Command:
        return cls.from_dict(json.loads(raw))

    @classmethod
    def from_dict(cls, data: Any) -> Command:
        if not isinstance(data, dict) or data.get("action") not in ("close", "recheck"):
            raise ValueError("not a revocation command")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


# --- publishing (any process) ----------------------------------------------------------------------


def publish(command: Command) -> None:
    """Store `command` in the current transaction (committed at once outside one) and send it to
    every server process once it commits: a rolled-back change revokes nothing."""
    row = RevocationCommand.objects.create(created_at=timezone.now(), payload=asdict(command))
    stored = replace(command, id=row.pk)
    transaction.on_commit(lambda: _send(stored))


def _send(command: Command) -> None:
    try:
        receivers = outbox.client(realtime_url()).publish(channel(), command.to_json())
    except Exception as exc:
        # Committed and stored: the servers' polls apply it (realtime.models.RevocationCommand).
        log.warning(
            "revocation not published (%s): the servers' polls apply it action=%s user=%s code=%s",
            type(exc).__name__,
            command.action,
            command.user_id,
            command.code,
        )
        return
    log.info(
        "revocation published action=%s user=%s code=%s servers=%s",
        command.action,
        command.user_id,
        command.code,
        receivers,
    )


def close_user(user_id: int, code: str, message: str, **match: Any) -> None:
    publish(Command("close", user_id, code, message, **match))


def recheck_user(user_id: int, message: str) -> None:
    publish(Command("recheck", user_id, ROOM_REVOKED, message))


# --- the local registry (each server process) ------------------------------------------------------


_by_user: dict[int, set[Revocable]] = {}
_registered_at: dict[int, float] = {}  # id(conn) -> when it was registered (time.time())
_applied: dict[int, float] = {}  # command row id -> when it was applied here (monotonic)
_session_timers: dict[int, asyncio.Task] = {}  # id(conn) -> its session expiry task
_recent: deque[tuple[int, float, Command]] = deque()  # (generation, monotonic time, command)
_generation = 0


def generation() -> int:
    """How many commands this process has applied: take it before authorizing, and pass it to
    `apply_missed` once the connection is registered or the room joined."""
    return _generation


def register(conn: Revocable) -> None:
    _by_user.setdefault(conn.identity.user_id, set()).add(conn)
    _registered_at[id(conn)] = time.time()
    if conn.identity.via == "session" and conn.identity.session_key:
        _session_timers[id(conn)] = asyncio.get_running_loop().create_task(_watch_session(conn))


def unregister(conn: Revocable) -> None:
    conns = _by_user.get(conn.identity.user_id)
    if conns is not None:
        conns.discard(conn)
        if not conns:
            del _by_user[conn.identity.user_id]
    _registered_at.pop(id(conn), None)
    timer = _session_timers.pop(id(conn), None)
    if timer is not None and timer is not asyncio.current_task():
        timer.cancel()


def live_count() -> int:
    return sum(len(conns) for conns in _by_user.values())


async def apply(command: Command, *, polled: bool = False) -> int:
    """Apply a command to this process's matching connections (once per command row); returns
    how many were affected. `polled`: read from the database, perhaps late: only connections
    registered before the command (plus COMMIT_MARGIN_SECONDS) are affected."""
    global _generation
    now = time.monotonic()
    if command.id is not None:
        if command.id in _applied:
            return 0
        _applied[command.id] = now
    _generation += 1
    now = time.monotonic()
    _recent.append((_generation, now, command))
    while _recent and now - _recent[0][1] > RECENT_SECONDS:
        _recent.popleft()
    affected = 0
    registered_by = command.sent_at + COMMIT_MARGIN_SECONDS
    for conn in list(_by_user.get(command.user_id, ())):
        if polled and _registered_at.get(id(conn), 0.0) > registered_by:
            continue
        affected += await _apply_to(conn, command)
    if affected:
        metrics.incr("revocations_applied", affected)
        log.info(
            "revocation applied action=%s user=%s code=%s connections=%s after=%.3fs via=%s",
            command.action,
            command.user_id,
            command.code,
            affected,
            time.time() - command.sent_at,
            "poll" if polled else "pubsub",
        )
    return affected


async def apply_missed(conn: Revocable, since: int) -> int:
    """Apply to `conn` the commands this process applied after generation `since`."""
    affected = 0
    for gen, _, command in list(_recent):
        if gen > since and command.user_id == conn.identity.user_id:
            affected += await _apply_to(conn, command)
    return affected


async def _apply_to(conn: Revocable, command: Command) -> int:
    if not command.matches(conn.identity):
        return 0
    try:
        if command.action == "close":
            await conn.revoke(command.code, command.message)
            return 1
        lost = [room for room in sorted(conn.rooms()) if not await still_allowed(conn.identity, room)]
        for room in lost:
            await conn.revoke_room(room, command.code, command.message)
        return 1 if lost else 0
    except Exception:
        log.exception("revocation failed action=%s user=%s code=%s", command.action, command.user_id, command.code)
        return 0


async def still_allowed(identity: Identity, room: str) -> bool:
    """The room kind's own authorization, run again (an unknown room is not allowed)."""
    try:
        await rooms.check(identity, room)
    except rooms.Forbidden:
        return False
    return True


# --- the server task ---------------------------------------------------------------------------------


async def listen(sio: Any = None) -> None:
    """Started once per server process (REALTIME_SERVER_TASKS): applies every command published
    on the revocation channel to this process's connections, in the order they were published,
    and (`poll`) the stored commands that did not arrive that way."""
    poller = asyncio.get_running_loop().create_task(poll())
    try:
        await _listen_pubsub()
    finally:
        poller.cancel()


async def _listen_pubsub() -> None:
    retry = 0.5
    while True:
        pubsub = broadcast_client().pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel())
            log.info("revocation listener subscribed channel=%s", channel())
            retry = 0.5
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    command = Command.from_json(message["data"])
                except (ValueError, TypeError) as exc:
                    log.warning("ignored a malformed revocation command: %s", exc)
                    continue
                await apply(command)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("revocation listener: %s: %s; retrying in %.1f s", type(exc).__name__, exc, retry)
            await asyncio.sleep(retry)
            retry = min(retry * 2, LISTEN_RETRY_MAX_SECONDS)
        finally:
            try:
                await pubsub.aclose()
            except Exception:  # noqa: S110 (the connection is already gone)
                pass


@sync_to_async
def _stored_since(seconds: float) -> list[tuple[int, Any]]:
    since = timezone.now() - timedelta(seconds=seconds)
    return list(RevocationCommand.objects.filter(created_at__gte=since).order_by("id").values_list("id", "payload"))


@sync_to_async
def _prune() -> int:
    keep = timedelta(seconds=settings.REALTIME_REVOCATION_KEEP_SECONDS)
    return RevocationCommand.objects.filter(created_at__lt=timezone.now() - keep).delete()[0]


async def poll() -> None:
    """Every REALTIME_REVOCATION_POLL_SECONDS: apply the stored commands not applied here yet (the
    first look only notes what is there: this process has no connection older than them)."""
    first = True
    pruned = time.monotonic()
    while True:
        try:
            rows = await _stored_since(POLL_LOOKBACK_SECONDS)
            for pk, payload in rows:
                if pk in _applied:
                    continue
                if first:
                    _applied[pk] = time.monotonic()
                    continue
                try:
                    command = replace(Command.from_dict(payload), id=pk)
                except (ValueError, TypeError) as exc:
                    log.warning("ignored a malformed stored revocation command #%s: %s", pk, exc)
                    _applied[pk] = time.monotonic()
                    continue
                await apply(command, polled=True)
            first = False
            now = time.monotonic()
            for pk in [pk for pk, at in _applied.items() if now - at > 2 * POLL_LOOKBACK_SECONDS]:
                del _applied[pk]
            if now - pruned >= PRUNE_EVERY_SECONDS:
                pruned = now
                await _prune()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("revocation poll: %s: %s", type(exc).__name__, exc)
        await asyncio.sleep(settings.REALTIME_REVOCATION_POLL_SECONDS)


# --- session expiry ------------------------------------------------------------------------------------


@sync_to_async
def _session_expiry(session_key: str) -> float | None:
    """When the session expires (a Unix time), or None when it is gone or already expired."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    model = getattr(store, "get_model_class", None)
    if model is not None:  # db / cached_db: the stored expiry date
        row = model().objects.filter(session_key=session_key).values_list("expire_date", flat=True).first()
        expiry = row.timestamp() if row is not None else None
    else:
        expiry = store.get_expiry_date().timestamp() if store.exists(session_key) else None
    return expiry if expiry is not None and expiry > time.time() else None


async def _watch_session(conn: Revocable) -> None:
    session_key = conn.identity.session_key
    assert session_key is not None
    try:
        while True:
            expiry = await _session_expiry(session_key)
            if expiry is None:
                break
            await asyncio.sleep(min(SESSION_RECHECK_MAX_SECONDS, max(0.0, expiry - time.time()) + 0.05))
        log.info("session ended user=%s via=session", conn.identity.user_id)
        await conn.revoke(SESSION_EXPIRED, "your session has expired or ended; log in again")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("session expiry check failed user=%s", conn.identity.user_id)
