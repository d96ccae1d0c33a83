"""The plain WebSocket protocol (`/ws/rooms/`, project/routing.py): a thin adapter over the
session service (realtime.sessions), for clients that do not speak Socket.IO.

RoomStreamConsumer
    A plain Channels WebSocket consumer for clients that do not speak Socket.IO. It authenticates
    the same way (a JWT or API token in `?token=`, or the session cookie, then with an Origin
    check), joins the user's own user and tenant rooms, and follows any other room the client
    subscribes to after the same authorization check (realtime.rooms). It reads the rooms' replay
    logs (Redis streams, XREAD BLOCK), so it gets the same events, in the same order, with the same
    `_meta`, and replays what a returning client missed. Protocol (JSON text frames):

      client: {"type": "subscribe", "room": "project:7", "namespace": "/", "last_seq": 41, "epoch": "…"}
              {"type": "unsubscribe", "room": "project:7", "namespace": "/"}
      server: {"type": "welcome", "user_id", "tenant_id", "rooms": [{namespace, room, seq, epoch}]}
              {"type": "subscribed", "namespace", "room", "seq", "epoch", "snapshot"?}
              {"type": "event", "namespace", "room", "event", "data": {..., "_meta": {room, seq, epoch}}}
              {"type": "resync_required", "namespace", "room", "reason"}
              {"type": "error", "code", "message"}   (refusals are followed by close 4401/4403, or
                                                      4429 for too_many_connections: realtime.caps)
              {"type": "error", "code": "room_revoked", "message", "room"}   (access to a followed room
                                                      was taken away: it is no longer followed)
              {"type": "error", "code": "access_revoked" | "token_revoked" | "session_expired", "message"}
                                                     (then close 4401: realtime.revocation)

    The reader sends no faster than the client reads: while the server holds more than half of
    SOCKETIO_MAX_BUFFERED_BYTES for the connection it waits; a client that does not read for
    DRAIN_SECONDS is closed with 4008 `slow_consumer` (realtime.compat.backpressure).

    Each connection holds one Redis connection while it waits for events: fine for the clients
    that need this path, not meant for tens of thousands of them (Socket.IO is).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from realtime import caps, contract, eventlog, metrics, rooms
from realtime.auth import Identity, Refused
from realtime.compat import backpressure
from realtime.redis import blocking_client
from realtime.sessions import Session, Throttled

log = logging.getLogger(__name__)

MAX_FRAME_CHARS = 4096
MAX_FOLLOWED = 50
BLOCK_MS = 3000  # well below the blocking client's socket timeout (realtime.redis.BLOCKING_SOCKET_TIMEOUT)
STOP_READER_WAIT_SECONDS = 0.2  # see RoomStreamConsumer._stop_reader
READ_COUNT = 200


# --- the plain WebSocket consumer ----------------------------------------------------------------


# close codes of a refused connection, after its error frame (anything else: 4401)
REFUSAL_CLOSE_CODES = {"forbidden_origin": 4403, caps.REFUSED_CODE: 4429}
# close codes of a connection the server ends, after its error frame (anything else: 4401)
SESSION_END_CLOSE_CODES = {"rate_limited": 4429}


class RoomStreamConsumer(AsyncJsonWebsocketConsumer):
    session: Session | None = None
    counted = False

    @property
    def identity(self) -> Identity | None:
        return self.session.identity if self.session is not None else None

    async def connect(self) -> None:
        self.follows: dict[tuple[str, str], eventlog.Position] = {}
        self.reader: asyncio.Task | None = None
        await self.accept()
        query = self.scope.get("query_string", b"").decode("latin-1")
        try:
            session = await Session.open(
                {"QUERY_STRING": query, "asgi.scope": self.scope},
                None,
                self,
                protocol="ws_rooms",
                session_origin=self._origin(),
            )
        except Refused as exc:
            metrics.incr("connections_refused")
            log.info("ws/rooms refused code=%s", exc.code)
            await self.send_error(exc.code, str(exc))
            await self.close(code=REFUSAL_CLOSE_CODES.get(exc.code, 4401))
            return
        self.session = session
        identity = session.identity
        metrics.incr("ws_rooms_connections_opened")
        for namespace in contract.namespaces():
            for room in session.own_rooms():
                self.follows[(namespace, room)] = await session.position(namespace, room)
        log.info("ws/rooms connect user=%s via=%s", identity.user_id, identity.via)
        await self.send_json(
            {
                "type": "welcome",
                "user_id": identity.user_id,
                "tenant_id": identity.tenant_id,
                "rooms": [
                    {"namespace": ns, "room": room, "seq": pos.seq, "epoch": pos.epoch}
                    for (ns, room), pos in self.follows.items()
                ],
            }
        )
        self.counted = True  # a live connection from here until disconnect (ops, /metrics)
        metrics.adjust(metrics.WS_ROOMS_LIVE, 1)
        if await session.catch_up():  # not revoked while it was authenticating
            self._start_reader()

    def _origin(self) -> str:
        for name, value in self.scope.get("headers", []):
            if name == b"origin":
                return value.decode("latin-1")
        return ""

    # --- the session's transport (realtime.sessions.Transport) -------------------------------------

    async def send_error(self, code: str, message: str, room: str | None = None) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **({"room": room} if room else {})})

    async def end(self, code: str) -> None:
        await self._stop_reader()
        await self.close(code=SESSION_END_CLOSE_CODES.get(code, 4401))

    def rooms(self) -> set[str]:
        return {room for _, room in self.follows}

    async def leave(self, room: str) -> None:
        await self._stop_reader()
        for key in [key for key in self.follows if key[1] == room]:
            del self.follows[key]
        self._start_reader()

    async def disconnect(self, code: int) -> None:
        if self.counted:
            self.counted = False
            metrics.adjust(metrics.WS_ROOMS_LIVE, -1)
        await self._stop_reader()
        if self.session is not None:
            await self.session.close()

    # --- client frames ---------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        session = self.session
        if session is None:
            return
        throttled = session.throttle()
        if throttled is Throttled.DISCONNECT:
            await self.send_error("rate_limited", "too many messages, disconnected")
            await self.close(code=SESSION_END_CLOSE_CODES["rate_limited"])
            return
        if throttled is not Throttled.NO:  # no acks on this protocol: every refused frame is answered
            await self.send_error("rate_limited", "too many messages, slow down")
            return
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self._error("invalid_payload", f"send JSON text frames of at most {MAX_FRAME_CHARS} characters")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("invalid_payload", "frame is not valid JSON")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind not in ("subscribe", "unsubscribe"):
            await self._error("unknown_event", "type must be 'subscribe' or 'unsubscribe'")
            return
        try:
            namespace, room = self._target(content)
            if kind == "subscribe":
                await self._subscribe(namespace, room, content.get("last_seq"), content.get("epoch"))
            else:
                await self._unsubscribe(namespace, room)
        except rooms.Forbidden as exc:
            await self._error(exc.code, str(exc))
        except Exception:
            # bad input must get an answer, never end the consumer
            log.exception("ws/rooms frame failed user=%s type=%s", self.identity and self.identity.user_id, kind)
            await self._error("internal_error", "the server could not handle this frame")

    def _target(self, content: dict) -> tuple[str, str]:
        namespace = contract.canonical_namespace(content.get("namespace") or "/")
        if namespace not in contract.namespaces():
            raise rooms.Forbidden("invalid_namespace", f"unknown namespace {str(namespace)[:50]!r}")
        room = content.get("room")
        rooms.split(room)  # shape and kind
        return namespace, room

    async def _subscribe(self, namespace: str, room: str, last_seq: Any, epoch: Any) -> None:
        assert self.identity is not None
        if last_seq is not None and (not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0):
            raise rooms.Forbidden("invalid_payload", "last_seq must be a non-negative integer")
        if epoch is not None and not isinstance(epoch, str):
            raise rooms.Forbidden("invalid_payload", "epoch must be a string")
        key = (namespace, room)
        if key not in self.follows and len(self.follows) >= MAX_FOLLOWED:
            raise rooms.Forbidden("too_many_rooms", f"at most {MAX_FOLLOWED} rooms per connection")
        assert self.session is not None
        kind = await self.session.authorize(room)
        await self._stop_reader()  # so this room's replay and live events can't interleave
        try:
            answer: dict[str, Any] = {"type": "subscribed", "namespace": namespace, "room": room}
            if last_seq is None:
                position = await self.session.position(namespace, room)
                if kind.snapshot is not None:
                    answer["snapshot"] = await kind.snapshot(self.identity, rooms.split(room)[1])
            else:
                missed = await self.session.replay(namespace, room, last_seq, epoch)
                position = missed.head
                if missed.resync:
                    metrics.incr("resyncs")
                    await self._resync(namespace, room, missed.resync)
                else:
                    for message in missed.messages:
                        await self._deliver(namespace, room, message)
                    metrics.incr("replayed", len(missed.messages))
            self.follows[key] = position
            await self.send_json({**answer, "seq": position.seq, "epoch": position.epoch})
            log.info("ws/rooms subscribe user=%s ns=%s room=%s", self.identity.user_id, namespace, room)
            await self.session.catch_up()  # revoked while it was being joined: closed, or left it
        finally:
            self._start_reader()

    async def _unsubscribe(self, namespace: str, room: str) -> None:
        assert self.session is not None
        self.session.check_leave(room)
        await self._stop_reader()
        self.follows.pop((namespace, room), None)
        self._start_reader()
        await self.send_json({"type": "unsubscribed", "namespace": namespace, "room": room})

    async def _error(self, code: str, message: str) -> None:
        await self.send_error(code, message)

    async def _resync(self, namespace: str, room: str, reason: str) -> None:
        await self.send_json({"type": "resync_required", "namespace": namespace, "room": room, "reason": reason})

    async def _deliver(self, namespace: str, room: str, message: dict[str, Any]) -> None:
        if self.slow:
            return
        payload = message["data"][0]
        await self.send_json(
            {"type": "event", "namespace": namespace, "room": room, "event": message["event"], "data": payload}
        )
        if self._held() > backpressure.LOW_WATER:
            # the reader (or a replay) waits for the client to read; one that does not is cut off
            protocol = backpressure.daphne_protocol(self.base_send)
            if protocol is not None:
                backpressure.push(protocol)
            if not await backpressure.wait_drained(self._held, lambda: self.slow):
                self._cut_off(room)

    # --- slow consumers (realtime.compat.backpressure) ---------------------------------------------

    slow = False

    def _held(self) -> int:
        """What daphne's transport holds for this connection, not yet sent (0 under another server)."""
        probe = getattr(self, "_unsent", None)
        if probe is None:
            probe = self._unsent = backpressure.unsent_probe(self.base_send) or backpressure._nothing
        return probe()

    def _cut_off(self, room: str) -> None:
        """It did not read what it holds within DRAIN_SECONDS: nothing more is sent, the reader
        stops, and the connection is closed with 4008 slow_consumer after what it holds."""
        self.slow = True
        self.reader = None  # the reader sees it is no longer the reader and ends
        if self.session is not None:
            self.session.cut_off(room)
        backpressure.close_slow(backpressure.daphne_protocol(self.base_send))

    # --- following the rooms' replay logs ----------------------------------------------------------

    def _start_reader(self) -> None:
        session = self.session
        if self.reader is None and self.follows and session is not None and not (session.closed or session.ending):
            self.reader = self.session.spawn(self._read(), "ws/rooms reader")

    async def _stop_reader(self) -> None:
        """Stop following the logs, promptly. redis-py (8.1) can hold a cancelled XREAD until its
        BLOCK runs out when the cancel lands while the command is still being sent (measured: 3 s
        in about one of twenty cancels), which held up every subscribe behind it and made daphne
        kill the consumer at disconnect. So the reader gets a moment to end; one that doesn't is
        left to end by itself when its XREAD returns (`_read` checks it is still the reader
        before it forwards anything, so nothing is delivered twice)."""
        task, self.reader = self.reader, None
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_READER_WAIT_SECONDS)
        if done and not task.cancelled() and task.exception() is not None:
            log.warning("ws/rooms reader ended with %r", task.exception())
        elif not done:
            log.debug("ws/rooms reader still in XREAD after cancel: left to end by itself")

    async def _read(self) -> None:
        redis = blocking_client()
        me = asyncio.current_task()
        try:
            while self.reader is me:
                by_key = {eventlog.log_key(ns, room): (ns, room) for ns, room in self.follows}
                streams = {key: f"0-{self.follows[target].seq}" for key, target in by_key.items()}
                result = await redis.xread(streams, count=READ_COUNT, block=BLOCK_MS)
                if self.reader is not me:  # stopped while XREAD held on to its cancel
                    return
                if not result:
                    await self._check_epochs(redis)
                    continue
                for stream, entries in result:
                    namespace, room = by_key[stream.decode() if isinstance(stream, bytes) else stream]
                    for _, fields in entries:
                        if self.reader is not me:  # cut off as a slow consumer
                            return
                        await self._forward(namespace, room, json.loads(fields[b"m"]))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ws/rooms reader failed user=%s", self.identity.user_id if self.identity else None)
            await self._error("internal_error", "the event stream failed; reconnect with your last positions")
            await self.close(code=1011)

    async def _forward(self, namespace: str, room: str, message: dict[str, Any]) -> None:
        meta = message["data"][0][contract.meta_field()]
        followed = self.follows[(namespace, room)]
        if followed.epoch is not None and meta["epoch"] != followed.epoch:
            # The room's log started over (Redis lost its data): what came before is gone.
            await self._resync(namespace, room, "epoch_changed")
        self.follows[(namespace, room)] = eventlog.Position(meta["seq"], meta["epoch"])
        await self._deliver(namespace, room, message)

    async def _check_epochs(self, redis: Any) -> None:
        """While idle: a room whose state was recreated under a new epoch has a new log whose
        sequence numbers start again at 1, below our position; resync and follow it from its head."""
        for (namespace, room), followed in list(self.follows.items()):
            if followed.epoch is None:
                continue
            head = await eventlog.read_position(redis, namespace, room)
            if head.epoch is not None and head.epoch != followed.epoch:
                await self._resync(namespace, room, "epoch_changed")
                self.follows[(namespace, room)] = head
