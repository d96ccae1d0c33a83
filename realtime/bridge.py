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

The plain WebSocket consumer for clients that do not speak Socket.IO (`/ws/rooms/`) is in
realtime.protocols.rooms_websocket.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from realtime import contract, eventlog, metrics, rooms
from realtime.emit import emit
from realtime.redis import sync_client

log = logging.getLogger(__name__)

STAFF = "staff"
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
