"""Room authorization: which identity may join which room, checked in the database every time.

`user:{id}` and `tenant:{id}` are joined on connect. Every other room kind is joined by an
explicit subscribe; apps register the kinds they own (`register("run", ...)` in automation), and
the host may name more in REALTIME_ROOMS (realtime.host). Who is a project's member is the host's
rule (REALTIME_PROJECTS: realtime.projects.ProjectRules)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from realtime import host
from realtime.auth import Identity
from realtime.ids import parse_id

Authorize = Callable[[Identity, str], Awaitable[bool]]
Snapshot = Callable[[Identity, str], Awaitable[dict[str, Any]]]


class Forbidden(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RoomKind:
    authorize: Authorize
    snapshot: Snapshot | None = None


_kinds: dict[str, RoomKind] = {}


def register(kind: str, *, authorize: Authorize, snapshot: Snapshot | None = None) -> None:
    _kinds[kind] = RoomKind(authorize, snapshot)


def split(room: Any) -> tuple[str, str]:
    if not isinstance(room, str) or len(room) > 100:
        raise Forbidden("invalid_room", "room must be a string like 'project:12'")
    if room == "staff":
        return "staff", ""
    kind, sep, key = room.partition(":")
    if not sep or not key or kind not in _kinds:
        raise Forbidden("invalid_room", f"unknown room {room[:100]!r}")
    return kind, key


async def check(identity: Identity, room: str) -> RoomKind:
    kind, key = split(room)
    room_kind = _kinds[kind]
    if not await room_kind.authorize(identity, key):
        raise Forbidden("forbidden", f"not allowed to join {room}")
    return room_kind


async def _own_user(identity: Identity, key: str) -> bool:
    return parse_id(key) == identity.user_id


async def _own_tenant(identity: Identity, key: str) -> bool:
    return identity.tenant_id is not None and parse_id(key) == identity.tenant_id


async def _staff(identity: Identity, key: str) -> bool:
    from django.contrib.auth import get_user_model

    return await get_user_model().objects.filter(pk=identity.user_id, is_staff=True, is_active=True).aexists()


async def is_project_member(identity: Identity, key: str) -> bool:
    project_id = parse_id(key)
    if project_id is None:
        return False
    return await host.projects().may_join(identity.user_id, project_id)


register("user", authorize=_own_user)
register("tenant", authorize=_own_tenant)
register("staff", authorize=_staff)
register("project", authorize=is_project_member)


def register_host_rooms() -> None:
    """The room kinds the host names in REALTIME_ROOMS (RealtimeConfig.ready)."""
    for kind, authorize in host.extra_rooms().items():
        register(kind, authorize=authorize)
