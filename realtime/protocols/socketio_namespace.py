"""The Socket.IO protocol: one namespace class serves `/`, `/notifications`, `/provisioning`,
`/billing` (and their aliases), as a thin adapter over the session service (realtime.sessions).

Connect: authenticate (auth.py), then, once the client has its CONNECT, send `connected` and
`connection_status`, and join the user and tenant rooms plus any room the client says it was in
(`auth.last_seen`, re-authorized in the database), replaying what it missed. A client with no
position for its user room gets the namespace's backlog instead (handlers.backlog: the unread
notifications on /notifications), so a client that keeps no positions still loses nothing.

Every client event goes through `trigger_event`: a per-connection token bucket, the contract's
schema, then the handler (built-in `on_*` methods or ones apps registered in realtime.handlers).
Refusals are `error` events with a code, and an ack with ok: false when the client asked for one.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import socketio
from django.conf import settings

from realtime import admission, contract, handlers, host, metrics, rooms
from realtime.auth import Identity, Refused
from realtime.compat import backpressure
from realtime.emit import project_room, user_room
from realtime.projects import UnknownProject
from realtime.sessions import Session, Throttled

log = logging.getLogger(__name__)

MAX_LAST_SEEN_ROOMS = 50
# python-socketio sends the CONNECT right after the connect handler returns; a connection that is
# not connected this long after is closed rather than left half-open.
WELCOME_CONNECT_TIMEOUT = 1.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def parse_last_seen(auth: Any, namespace: str) -> dict[str, tuple[int, str | None]]:
    """`auth.last_seen` is {room: {"seq": n, "epoch": "..."}} for the namespace being connected;
    a client that shares one auth object across namespaces sends
    `auth.last_seen_by_namespace` = {namespace: {room: {...}}} instead. Anything malformed is
    ignored (the client then simply gets no replay for that room)."""
    if not isinstance(auth, dict):
        return {}
    by_ns = auth.get("last_seen_by_namespace")
    raw = by_ns.get(namespace) if isinstance(by_ns, dict) else auth.get("last_seen")
    if not isinstance(raw, dict):
        return {}
    out = {}
    for room, pos in list(raw.items())[:MAX_LAST_SEEN_ROOMS]:
        if isinstance(room, str) and isinstance(pos, dict):
            seq, epoch = pos.get("seq"), pos.get("epoch")
            if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
                out[room] = (seq, epoch if isinstance(epoch, str) else None)
    return out


class SocketIOTransport:
    """How a session reaches its Socket.IO connection (realtime.sessions.Transport)."""

    __slots__ = ("namespace", "sid")

    def __init__(self, namespace: RealtimeNamespace, sid: str) -> None:
        self.namespace = namespace
        self.sid = sid

    async def send_error(self, code: str, message: str, room: str | None = None) -> None:
        await self.namespace.send_error(self.sid, code, message, None if room else "connect", room=room)

    async def end(self, code: str) -> None:
        log.info("disconnect ns=%s sid=%s code=%s", self.namespace.namespace, self.sid, code)
        await self.namespace.disconnect(self.sid)

    def rooms(self) -> set[str]:
        manager = self.namespace.server.manager
        return {room for room in manager.get_rooms(self.sid, self.namespace.namespace) if room != self.sid}

    async def leave(self, room: str) -> None:
        await self.namespace.leave_room(self.sid, room)


class RealtimeNamespace(socketio.AsyncNamespace):
    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        # An alias (seed 004's "/ws") serves the rooms, events and replay log of its namespace.
        self.canonical = contract.canonical_namespace(namespace)
        self.sessions: dict[str, Session] = {}

    # --- connection ------------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        # A handshake counts against admission from here until its welcome is done (or fails).
        admission.begin()
        try:
            session = await Session.open(environ, auth, SocketIOTransport(self, sid), protocol="socketio")
        except BaseException as exc:
            admission.end()
            if not isinstance(exc, Refused):
                raise
            metrics.incr("connections_refused")
            log.info("connect refused ns=%s code=%s", self.namespace, exc.code)
            refusal = socketio.exceptions.ConnectionRefusedError(str(exc))
            # JS clients read err.message and err.data; Python clients get the whole object.
            refusal.error_args = {**exc.as_error(), "data": exc.as_error()}
            raise refusal from None
        self.sessions[sid] = session
        identity = session.identity
        metrics.incr("connections")
        log.info("connect ns=%s sid=%s user=%s via=%s", self.namespace, sid, identity.user_id, identity.via)
        # The welcome starts once python-socketio has sent the client its CONNECT (right after
        # this handler returns), so the client has its sid before its first event.
        connected = self.server.manager.when_connected(sid, self.namespace)
        welcome = session.spawn(
            self._welcome(sid, session, connected, parse_last_seen(auth, self.namespace)), "welcome"
        )
        welcome.add_done_callback(lambda _: admission.end())

    async def _welcome(
        self,
        sid: str,
        session: Session,
        connected: asyncio.Future[None],
        last_seen: dict[str, tuple[int, str | None]],
    ) -> None:
        manager = self.server.manager
        identity = session.identity
        try:
            async with asyncio.timeout(WELCOME_CONNECT_TIMEOUT):
                await connected
        except TimeoutError:
            await self._welcome_failed(
                sid, identity, f"the connection was not established within {WELCOME_CONNECT_TIMEOUT} s"
            )
            return
        if not await session.catch_up():  # revoked while it was authenticating
            return
        try:
            # Rooms first: once a client has `connected`, everything sent to its rooms reaches it.
            # The rooms it comes back with are re-authorized (in the database) first; then all
            # of them are joined with one Redis round trip (delivery.joins.join_many).
            own = session.own_rooms()
            replays_user_room = own[0] in last_seen
            joins = [(room, *last_seen.pop(room, (None, None))) for room in own]
            for room, (since, epoch) in last_seen.items():
                try:
                    await session.authorize(room)
                except rooms.Forbidden as exc:
                    await self.send_error(sid, exc.code, str(exc), "connect")
                    continue
                joins.append((room, since, epoch))
            heads = await manager.join_many(sid, self.namespace, joins, log_namespace=self.canonical)
            positions: dict[str, dict[str, Any]] = {
                room: {"seq": head.seq, "epoch": head.epoch}
                for (room, _, _), head in zip(joins, heads, strict=True)
                if head.epoch is not None
            }
            if not await session.catch_up():  # revoked while its rooms were being joined
                return
            if not replays_user_room:
                await self._send_backlog(sid, identity)
            await self.send(
                sid,
                "connected",
                {
                    "message": "Connected",
                    "user_id": identity.user_id,
                    "tenant_id": identity.tenant_id,
                    # where each joined room stood: a client with no position of its own for a
                    # room sends this back in auth.last_seen when it reconnects
                    "positions": positions,
                },
            )
            await self.send(
                sid,
                "connection_status",
                {"status": "connected", "message": "Connected to the realtime server", "timestamp": now_iso()},
            )
        except asyncio.CancelledError:
            raise  # the connection ended while it was being welcomed
        except Exception as exc:
            log.exception("welcome failed ns=%s sid=%s user=%s", self.namespace, sid, identity.user_id)
            await self._welcome_failed(sid, identity, f"{type(exc).__name__}: {exc}")

    async def _send_backlog(self, sid: str, identity: Identity) -> None:
        """What the client missed while away, when it brought no replay position (with one, the
        replay has just sent it, and this would send it twice). Read after the rooms were joined:
        an event sent in between may come twice (once live, once here), never not at all; each
        carries its id, for the client to drop the second."""
        backlog = handlers.backlog_for(self.canonical)
        if backlog is None:
            return
        for event, data in await backlog(identity):
            await self.send(sid, event, data)

    async def _welcome_failed(self, sid: str, identity: Identity, why: str) -> None:
        """A connection that did not get its rooms and its greeting must not stay open looking
        fine: it is closed (the Engine.IO connection, so the client's reconnection kicks in and
        it tries again, with its positions)."""
        metrics.incr("welcome_failures")
        log.error(
            "welcome failed, closing the connection ns=%s sid=%s user=%s via=%s: %s",
            self.namespace,
            sid,
            identity.user_id,
            identity.via,
            why,
        )
        try:
            await close_transport(self.server, sid, self.namespace)
        except Exception:
            log.exception("could not close the connection ns=%s sid=%s", self.namespace, sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.server.manager.forget_connected(sid, self.namespace)
        session = self.sessions.pop(sid, None)
        if session is not None:
            await session.close()
        metrics.incr("disconnections")

    # --- sending to one connection ---------------------------------------------------------------

    async def send(self, sid: str, event: str, data: dict[str, Any] | None) -> None:
        if settings.REALTIME_VALIDATE_EVENTS:
            contract.validate(contract.spec_for(event, direction="server_to_client", namespace=self.canonical), data)
        await self.server.manager.send_to_sid(sid, self.namespace, event, data)

    async def send_error(
        self, sid: str, code: str, message: str, event: str | None = None, *, room: str | None = None
    ) -> dict[str, Any]:
        payload = {"message": message, "code": code}
        if event:
            payload["event"] = event[:100]
        if room:
            payload["room"] = room
        await self.send(sid, "error", payload)
        return {"ok": False, "code": code, "message": message}

    # --- client events ---------------------------------------------------------------------------

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        session = self.sessions.get(sid)
        if session is None:  # the connection is ending
            return {"ok": False, "code": "unauthenticated", "message": "the connection is not authenticated"}
        identity = session.identity
        throttled = session.throttle()
        if throttled is Throttled.DISCONNECT:
            await self.disconnect(sid)
            return {"ok": False, "code": "rate_limited", "message": "too many events, disconnected"}
        if throttled is Throttled.TELL:  # tell the client, without answering each flooded event
            return await self.send_error(sid, "rate_limited", "too many events, slow down", event)
        if throttled is Throttled.REFUSE:
            return {"ok": False, "code": "rate_limited", "message": "too many events"}
        if len(args) > 2:
            return await self.send_error(sid, "invalid_payload", f"{event}: expected one payload argument", event)
        data = args[1] if len(args) == 2 else None  # no payload is null: the contract says if that will do
        try:
            spec = contract.spec_for(str(event)[:100], direction="client_to_server", namespace=self.canonical)
            contract.validate(spec, data)
        except contract.ContractError as exc:
            return await self.send_error(sid, exc.code, str(exc)[:300], str(event))
        builtin = getattr(self, "on_" + event, None)
        handler = handlers.lookup(self.canonical, event)
        try:
            if builtin is not None:
                ack = await builtin(sid, identity, data)
            elif handler is not None:
                ack = await handler(identity, data)
            else:
                return await self.send_error(sid, "unknown_event", f"{event} is not handled here", event)
        except (handlers.EventError, rooms.Forbidden) as exc:
            return await self.send_error(sid, exc.code, str(exc), event)
        except Exception:
            log.exception("handler failed ns=%s event=%s sid=%s", self.namespace, event, sid)
            return await self.send_error(sid, "internal_error", "the server could not handle this event", event)
        return {"ok": True, **(ack or {})}

    # --- built-in handlers (called by trigger_event with validated data) ---------------------------

    async def on_ping(self, sid: str, identity: Identity, data: None) -> None:
        """Seed 004's keepalive: `pong`, with no payload, to this connection."""
        await self.send(sid, "pong", None)

    async def on_subscribe(self, sid: str, identity: Identity, data: dict) -> dict[str, Any]:
        return await self._subscribe(sid, identity, data["room"], data.get("last_seq"), data.get("epoch"))

    async def on_unsubscribe(self, sid: str, identity: Identity, data: dict) -> dict[str, Any]:
        room = data["room"]
        self.sessions[sid].check_leave(room)
        await self.leave_room(sid, room)
        return {"room": room}

    async def on_join_room(self, sid: str, identity: Identity, data: dict) -> dict[str, Any]:
        """Seed 000 clients join `{room: username}`. Only their own name is accepted, and they are
        already in their user room, where those events are sent."""
        if data["room"] != identity.username:
            raise rooms.Forbidden("forbidden", "you can only join your own room")
        return {"room": user_room(identity.user_id)}

    async def on_subscribe_project(self, sid: str, identity: Identity, data: dict) -> dict[str, Any]:
        room = await project_room_of(identity, data["project_id"])
        return await self._subscribe(sid, identity, room, data.get("last_seq"), data.get("epoch"))

    async def on_unsubscribe_project(self, sid: str, identity: Identity, data: dict) -> dict[str, Any]:
        """Seed 002: membership is checked in the database here too, and the ack carries the
        project's current job state. The socket leaves the room first either way: a member who
        was removed from the project must stop receiving it, and is then told they are not one."""
        room = await project_room_of(identity, data["project_id"])
        await self.leave_room(sid, room)
        kind = await self.sessions[sid].authorize(room)
        answer: dict[str, Any] = {"room": room}
        if kind.snapshot is not None:
            answer["snapshot"] = await kind.snapshot(identity, rooms.split(room)[1])
        log.info("unsubscribe ns=%s sid=%s user=%s room=%s", self.namespace, sid, identity.user_id, room)
        return answer

    async def _subscribe(
        self, sid: str, identity: Identity, room: str, last_seq: int | None, epoch: str | None
    ) -> dict[str, Any]:
        session = self.sessions[sid]
        kind = await session.authorize(room)
        head = await self.server.manager.join(
            sid, self.namespace, room, since=last_seq, epoch=epoch, log_namespace=self.canonical
        )
        open_ = await session.catch_up()  # revoked while joining: it was closed or left the room
        if not open_ or sid not in self.server.manager.rooms.get(self.namespace, {}).get(room, ()):
            raise rooms.Forbidden("room_revoked", f"access to {room} was revoked")
        answer: dict[str, Any] = {"room": room, "seq": head.seq, "epoch": head.epoch}
        if last_seq is None and kind.snapshot is not None:
            # Position read before the snapshot: apply events with seq > answer["seq"] to it.
            answer["snapshot"] = await kind.snapshot(identity, rooms.split(room)[1])
        log.info("subscribe ns=%s sid=%s user=%s room=%s", self.namespace, sid, identity.user_id, room)
        return answer


def report_slow_consumer(server: socketio.AsyncServer, eio_sid: str, room: str | None) -> None:
    """An Engine.IO connection is being cut off as a slow consumer (realtime.compat.backpressure):
    counted and logged once, with its user (from the first of its namespaces' sessions)."""
    for namespace, handler in server.namespace_handlers.items():
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
        session = handler.sessions.get(sid) if sid is not None and isinstance(handler, RealtimeNamespace) else None
        if session is not None:
            session.cut_off(room)
            return
    backpressure.report("socketio", None, room)


async def close_transport(server: socketio.AsyncServer, sid: str, namespace: str) -> None:
    """Close a client's Engine.IO connection without a CLOSE packet, as a lost connection looks:
    Socket.IO clients (Python and JS) then reconnect by themselves, which they don't after a
    Socket.IO DISCONNECT or an Engine.IO CLOSE from the server."""
    eio_sid = server.manager.eio_sid_from_sid(sid, namespace)
    socket = server.eio.sockets.get(eio_sid) if eio_sid is not None else None
    if socket is None:
        await server.disconnect(sid, namespace=namespace)
        return
    await socket.close(wait=False, abort=True)  # runs the disconnect handlers
    socket.queue.put_nowait(None)  # the writer ends and closes the WebSocket (a poll gets nothing)
    server.eio.sockets.pop(eio_sid, None)


async def project_room_of(identity: Identity, project_id: Any) -> str:
    """Seed 002 names a project by its id or by its key (`project_456`, in the user's tenant)."""
    try:
        return project_room(await host.projects().aresolve(project_id, identity.tenant_id))
    except UnknownProject as exc:
        raise rooms.Forbidden("invalid_room", str(exc)) from None
