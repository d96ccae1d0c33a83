"""The Channels bridge: Channels code reaches Socket.IO clients, and plain WebSocket clients
follow the same rooms.

Groups and rooms
    Channels group names can't contain ':', so room `kind:key` is group `kind.key` (`user.5`,
    `tenant.3`, `project.7`, `run.9`, `job.<uuid>`) and `staff` is `staff`. `room_to_group()` and
    `group_to_room()` convert; a group whose first part is not a registered room kind is a plain
    Channels group and is left alone.

RealtimeChannelLayer (CHANNEL_LAYERS BACKEND "realtime.bridge.RealtimeChannelLayer")
    channels_redis' layer, whose `group_send(group, {"type": ..., "event": ..., "data": {...}})`
    on a room group also publishes the event through `realtime.emit` (contract check, the
    room's sequence number, its replay log, Redis pub/sub to every server process): each
    Socket.IO client in the room gets it once, on whichever server it is connected, and a client
    that was away gets it replayed. Consumers that joined the group with `group_add` still get
    the message as before, with `data._meta` added. `"namespace"` in the message picks the
    namespace (default: the contract's). Messages without `event` are plain Channels messages.

    Like any Channels `group_send`, it sends at once, also inside a transaction: from code that
    writes to the database, use `group_send_on_commit()` (or `realtime.emit`, which waits for the
    commit by itself).

RoomStreamConsumer (`/ws/rooms/`, project/routing.py)
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

    Each connection holds one Redis connection while it waits for events: fine for the clients
    that need this path, not meant for tens of thousands of them (Socket.IO is).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from realtime import caps, contract, eventlog, metrics, rooms
from realtime.auth import Identity, Refused, identify
from realtime.emit import emit, tenant_room, user_room
from realtime.namespaces import TokenBucket
from realtime.redis import async_client, blocking_client, sync_client

log = logging.getLogger(__name__)

STAFF = "staff"
MAX_FRAME_CHARS = 4096
MAX_FOLLOWED = 50
BLOCK_MS = 3000  # well below the blocking client's socket timeout (realtime.redis.BLOCKING_SOCKET_TIMEOUT)
STOP_READER_WAIT_SECONDS = 0.2  # see RoomStreamConsumer._stop_reader
READ_COUNT = 200
BRIDGED_COUNTS_KEY = "rt:bridged"  # Redis hash event -> bridged group_sends, every process (ops, /metrics)


# --- groups <-> rooms ----------------------------------------------------------------------------


def room_to_group(room: str) -> str:
    if room == STAFF:
        return STAFF
    kind, sep, key = room.partition(":")
    if not sep or not key:
        raise ValueError(f"not a room: {room!r}")
    return f"{kind}.{key}"


def group_to_room(group: str) -> str | None:
    """The room a Channels group stands for, or None for a plain Channels group."""
    if group == STAFF:
        return STAFF
    kind, sep, key = group.partition(".")
    if not sep or not key:
        return None
    room = f"{kind}:{key}"
    try:
        rooms.split(room)
    except rooms.Forbidden:
        return None
    return room


# --- the channel layer ---------------------------------------------------------------------------


# The channel layer's Redis read timeout: above channels_redis' blocking read (BZPOPMIN, its
# `brpop_timeout`, 5 s), which a consumer's `await_many_dispatch` keeps waiting in while the
# client is idle. redis-py's default socket timeout is also 5 s, so the read timed out first and
# every idle /ws/rooms/ consumer died with redis TimeoutError (close 1011) after about 5 s.
LAYER_READ_MARGIN_SECONDS = 10


class RealtimeChannelLayer(RedisChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hosts = [layer_host(host, self.brpop_timeout) for host in self.hosts]

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        room = group_to_room(group)
        if room is not None and isinstance(message, dict) and "event" in message:
            published = await publish(room, message)
            data = {
                **message["data"],
                contract.meta_field(): {"room": room, "seq": published.seq, "epoch": published.epoch},
            }
            message = {**message, "data": data}
        await super().group_send(group, message)


def layer_host(host: dict[str, Any], blocking_read_seconds: float) -> dict[str, Any]:
    """A channels_redis host entry whose Redis socket timeout outlasts the layer's blocking read
    (set when the entry has none; refused when it has one that does not)."""
    host = dict(host)
    timeout = host.setdefault("socket_timeout", blocking_read_seconds + LAYER_READ_MARGIN_SECONDS)
    if timeout is not None and timeout <= blocking_read_seconds:
        raise ImproperlyConfigured(
            f"CHANNEL_LAYERS socket_timeout ({timeout} s) must be above the layer's blocking read "
            f"({blocking_read_seconds} s), or idle WebSocket consumers are closed by a Redis timeout"
        )
    host.setdefault("socket_connect_timeout", 2)
    return host


async def publish(room: str, message: dict[str, Any]) -> eventlog.Published:
    """Publish a Channels message `{"event", "data", "namespace"?}` to `room` through emit().

    The synchronous emit() runs in a thread: it works from any loop (the server's, or the short
    one async_to_sync makes in a view or a job) with the process's pooled Redis client."""
    event, data = message.get("event"), message.get("data")
    if not isinstance(event, str) or not isinstance(data, dict):
        raise contract.ContractError("a bridged message needs 'event' (a string) and 'data' (an object)")
    published = await asyncio.to_thread(_emit_counted, event, data, room, message.get("namespace"))
    metrics.incr("bridged_group_sends")
    return published


def _emit_counted(event: str, data: dict[str, Any], room: str, namespace: str | None) -> Any:
    published = emit(event, data, room=room, namespace=namespace, on_commit=False)
    try:
        # Global, like emit's own counters: group_sends from workers and views count too.
        sync_client().hincrby(BRIDGED_COUNTS_KEY, event, 1)
    except Exception as exc:  # the event went out; only its count is lost
        log.warning("bridged group_send not counted event=%s: %s", event, exc.__class__.__name__)
    return published


def group_send_on_commit(group: str, message: dict[str, Any]) -> None:
    """`group_send` after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: async_to_sync(get_channel_layer().group_send)(group, message))


# --- the plain WebSocket consumer ----------------------------------------------------------------


# close codes of a refused connection, after its error frame (anything else: 4401)
REFUSAL_CLOSE_CODES = {"forbidden_origin": 4403, caps.REFUSED_CODE: 4429}


class RoomStreamConsumer(AsyncJsonWebsocketConsumer):
    identity: Identity | None = None
    lease: caps.Lease | None = None
    counted = False

    async def connect(self) -> None:
        self.follows: dict[tuple[str, str], eventlog.Position] = {}
        self.reader: asyncio.Task | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self.bucket = TokenBucket()
        await self.accept()
        query = self.scope.get("query_string", b"").decode("latin-1")
        try:
            identity = await identify({"QUERY_STRING": query, "asgi.scope": self.scope}, None)
            if identity.via == "session" and self._origin() not in settings.SOCKETIO_ALLOWED_ORIGINS:
                raise Refused("forbidden_origin", "session connections must come from an allowed origin")
            self.lease = await caps.take(identity.user_id, caps.client_address(self.scope))
        except Refused as exc:
            metrics.incr("connections_refused")
            log.info("ws/rooms refused code=%s", exc.code)
            await self.send_json({"type": "error", "code": exc.code, "message": str(exc)})
            await self.close(code=REFUSAL_CLOSE_CODES.get(exc.code, 4401))
            return
        self.identity = identity
        if identity.expires_at is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, identity.expires_at - time.time())
            self.expiry = loop.call_later(delay, lambda: loop.create_task(self._expire()))
        metrics.incr("ws_rooms_connections_opened")
        redis = async_client()
        own = [user_room(identity.user_id)] + ([tenant_room(identity.tenant_id)] if identity.tenant_id else [])
        for namespace in contract.namespaces():
            for room in own:
                self.follows[(namespace, room)] = await eventlog.read_position(redis, namespace, room)
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
        self._start_reader()

    def _origin(self) -> str:
        for name, value in self.scope.get("headers", []):
            if name == b"origin":
                return value.decode("latin-1")
        return ""

    async def _expire(self) -> None:
        await self.send_json({"type": "error", "code": "token_expired", "message": "token has expired"})
        await self.close(code=4401)

    async def disconnect(self, code: int) -> None:
        await caps.release(self.lease)
        self.lease = None
        if self.counted:
            self.counted = False
            metrics.adjust(metrics.WS_ROOMS_LIVE, -1)
        await self._stop_reader()
        if self.expiry is not None:
            self.expiry.cancel()

    # --- client frames ---------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.identity is None:
            return
        if not self.bucket.take():
            metrics.incr("rate_limited")
            await self._error("rate_limited", "too many messages, slow down")
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
        kind = await rooms.check(self.identity, room)
        await self._stop_reader()  # so this room's replay and live events can't interleave
        try:
            redis = async_client()
            answer: dict[str, Any] = {"type": "subscribed", "namespace": namespace, "room": room}
            if last_seq is None:
                position = await eventlog.read_position(redis, namespace, room)
                if kind.snapshot is not None:
                    answer["snapshot"] = await kind.snapshot(self.identity, rooms.split(room)[1])
            else:
                missed = await eventlog.read_missed(redis, namespace, room, since=last_seq, epoch=epoch)
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
        finally:
            self._start_reader()

    async def _unsubscribe(self, namespace: str, room: str) -> None:
        assert self.identity is not None
        if room in (user_room(self.identity.user_id), tenant_room(self.identity.tenant_id or 0)):
            raise rooms.Forbidden("forbidden", "you cannot leave your own user or tenant room")
        await self._stop_reader()
        self.follows.pop((namespace, room), None)
        self._start_reader()
        await self.send_json({"type": "unsubscribed", "namespace": namespace, "room": room})

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def _resync(self, namespace: str, room: str, reason: str) -> None:
        await self.send_json({"type": "resync_required", "namespace": namespace, "room": room, "reason": reason})

    async def _deliver(self, namespace: str, room: str, message: dict[str, Any]) -> None:
        payload = message["data"][0]
        await self.send_json(
            {"type": "event", "namespace": namespace, "room": room, "event": message["event"], "data": payload}
        )

    # --- following the rooms' replay logs ----------------------------------------------------------

    def _start_reader(self) -> None:
        if self.reader is None and self.follows:
            self.reader = asyncio.get_running_loop().create_task(self._read())

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
