"""Pub/sub channel names (issue 11).

A room's events are published on the room's own channel, so a server process hears only the rooms
it has members in (`subscriptions`). The channel carries the room's hash tag, the same as the
room's keys in the event log: on a Redis Cluster the publish script's keys and its SPUBLISH are in
one slot. Everything that is not a logged room event (python-socketio's host-to-host messages,
emits to a whole namespace, write-only managers of other processes) stays on the broadcast
channel, `settings.SOCKETIO_CHANNEL`, which every server process subscribes to.
"""

from __future__ import annotations

from django.conf import settings

RoomKey = tuple[str, str]  # (namespace as published, i.e. canonical; room)


def hash_tag(namespace: str, room: str) -> str:
    """`{ns|room}`: every key and the channel of one room hash to the same cluster slot."""
    return f"{{{namespace}|{room}}}"


def broadcast_channel() -> str:
    return settings.SOCKETIO_CHANNEL


def room_channel(namespace: str, room: str) -> str:
    return f"{settings.SOCKETIO_CHANNEL}:room:{hash_tag(namespace, room)}"
