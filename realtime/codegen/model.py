"""The contract read once for the generators: every event entry with names unique across the
contract (an AsyncAPI message key, a TypeScript / Python type name), the same in all three outputs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

SERVER_TO_CLIENT = "server_to_client"
CLIENT_TO_SERVER = "client_to_server"


@dataclass(frozen=True)
class Event:
    name: str  # the Socket.IO event name, as sent
    key: str  # unique, [A-Za-z0-9._-]: the AsyncAPI message key
    type_name: str  # unique identifier: the payload type in TypeScript and Python
    namespaces: tuple[str, ...]
    direction: str
    schema: Any
    doc: str
    ack: bool
    ack_schema: dict[str, Any] | None
    rooms: tuple[str, ...]
    target: str
    seed: str
    same_as: str | None = None  # the type_name of an earlier event with the very same payload

    @property
    def to_room(self) -> bool:
        """A room event: it carries the replay metadata (`_meta`)."""
        return self.direction == SERVER_TO_CLIENT and self.target == "room"


def pascal(name: str) -> str:
    """`agent_status` -> `AgentStatus`, `status:update` -> `Status_Update` (not `StatusUpdate`,
    which is `status_update`'s)."""
    parts = []
    for part in name.split(":"):
        words = [w for w in re.split(r"[^0-9A-Za-z]+", part) if w]
        parts.append("".join(w[:1].upper() + w[1:] for w in words))
    out = "_".join(p for p in parts if p) or "Event"
    return "E" + out if out[0].isdigit() else out


def unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


def message_key(name: str) -> str:
    """An AsyncAPI component key (`^[a-zA-Z0-9.\\-_]+$`): `status:update` -> `status.update`."""
    return re.sub(r"[^A-Za-z0-9_-]", ".", name.replace(".", "-")) or "event"


def channel_key(namespace: str) -> str:
    """`/` -> `root`, `/notifications` -> `notifications`, `/ws/billing` -> `ws.billing`."""
    return message_key(namespace.strip("/").replace("/", ":")) if namespace.strip("/") else "root"


def events(contract: dict[str, Any]) -> list[Event]:
    keys: set[str] = set()
    types: set[str] = {"ReplayMeta", "Ack", "HandshakeAuth"}
    out = []
    first: dict[tuple[str, bool], str] = {}  # (schema, carries _meta) -> type name
    for raw in contract["events"]:
        doc = raw.get("doc") or raw.get("$comment") or ""
        to_room = raw["direction"] == SERVER_TO_CLIENT and raw.get("target", "room") == "room"
        shape = (json.dumps(raw["schema"], sort_keys=True), to_room)
        type_name = unique(pascal(raw["name"]) + "Payload", types)
        out.append(
            Event(
                name=raw["name"],
                key=unique(message_key(raw["name"]), keys),
                type_name=type_name,
                namespaces=tuple(raw["namespaces"]),
                direction=raw["direction"],
                schema=raw["schema"],
                doc=doc,
                ack=bool(raw.get("ack", False)),
                ack_schema=raw.get("ack_schema"),
                rooms=tuple(raw.get("rooms", ())),
                target=raw.get("target", "room"),
                seed=str(raw.get("seed", "")),
                same_as=first.get(shape),
            )
        )
        first.setdefault(shape, type_name)
    return out


def in_namespace(evs: list[Event], namespace: str, direction: str) -> list[Event]:
    return [e for e in evs if namespace in e.namespaces and e.direction == direction]


# An ack's shape, unless the contract gives one (`ack_schema`): the server always answers
# `{ok: true, ...}` or `{ok: false, code, message}` (realtime/protocols/socketio_namespace.py).
DEFAULT_ACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
    "required": ["ok"],
}

# What a client sends as Socket.IO `auth` on connect (docs/clients.md; parsed by
# realtime/protocols/socketio_namespace.py parse_last_seen): a JWT, and the replay positions it
# kept per room, for this namespace or (one auth object shared by several) per namespace.
_POSITIONS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {"seq": {"type": "integer", "minimum": 0}, "epoch": {"type": "string"}},
        "required": ["seq"],
    },
}
HANDSHAKE_AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "description": "a JWT from POST /api/auth/token"},
        "last_seen": {
            **_POSITIONS,
            "description": "room -> the last `_meta` {seq, epoch} seen: the server replays what came after",
        },
        "last_seen_by_namespace": {
            "type": "object",
            "description": "namespace -> room -> {seq, epoch}, instead of last_seen",
            "additionalProperties": _POSITIONS,
        },
    },
}
