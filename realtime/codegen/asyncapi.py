"""The event contract as an AsyncAPI 3.0 document, from the application's (the server's) side.

One channel per Socket.IO namespace (its `address` is the namespace); one message per event; one
operation per event and namespace: `send` for server-to-client events, `receive` for
client-to-server ones, whose Socket.IO ack is the operation's `reply`. A room event's payload has
the replay metadata (`_meta`, components.schemas.ReplayMeta); what a client sends on connect to be
replayed is components.schemas.HandshakeAuth. The contract's own fields (rooms, target, seed) stay
on each message as `x-` extensions.

The payload schemas are the contract's JSON Schemas, used as AsyncAPI Schema Objects (a superset
of JSON Schema draft 07: what the contract's schemas use).
"""

from __future__ import annotations

import copy
from typing import Any

from realtime.codegen import model
from realtime.codegen.model import SERVER_TO_CLIENT, Event

ASYNCAPI_VERSION = "3.0.0"
ARROW = {SERVER_TO_CLIENT: "server → client", model.CLIENT_TO_SERVER: "client → server"}


def build(contract: dict[str, Any], *, host: str | None = None, secure: bool = False) -> dict[str, Any]:
    """The AsyncAPI document; with `host`, a server per Socket.IO path of the contract on it."""
    events = model.events(contract)
    meta = contract["meta_field"]
    keys = {e.key for e in events}
    ack_keys = {e.key: model.unique(f"{e.key}.ack", keys) for e in events if e.ack}

    doc: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Realtime events",
            "version": str(contract.get("version", "1")),
            "description": _description(contract),
        },
        "defaultContentType": "application/json",
    }
    if host:
        server_keys: set[str] = set()
        doc["servers"] = {
            model.unique(model.channel_key(path.rstrip("/")), server_keys): {
                "host": host,
                "protocol": "wss" if secure else "ws",
                "pathname": "/" + path.strip("/"),
                "description": f"Socket.IO at path {path} (WebSocket, or HTTP long-polling at the same path)",
            }
            for path in contract.get("paths", ["/socket.io/"])
        }

    aliases: dict[str, list[str]] = {}
    for alias, canonical in (contract.get("namespace_aliases") or {}).items():
        aliases.setdefault(canonical, []).append(alias)

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    channel_keys: set[str] = set()
    operation_keys: set[str] = set()
    for namespace in contract["namespaces"]:
        ck = model.unique(model.channel_key(namespace), channel_keys)
        mine = [e for e in events if namespace in e.namespaces]
        messages: dict[str, Any] = {}
        for e in mine:
            messages[e.key] = {"$ref": f"#/components/messages/{e.key}"}
            if e.ack:
                messages[ack_keys[e.key]] = {"$ref": f"#/components/messages/{ack_keys[e.key]}"}
        channel: dict[str, Any] = {
            "address": namespace,
            "title": f"Namespace {namespace}",
            "description": f"The Socket.IO namespace `{namespace}`."
            + (f" Also served as {', '.join(f'`{a}`' for a in aliases[namespace])}." if aliases.get(namespace) else ""),
            "messages": messages,
            "x-handshake-auth": {"$ref": "#/components/schemas/HandshakeAuth"},
        }
        if aliases.get(namespace):
            channel["x-namespace-aliases"] = aliases[namespace]
        channels[ck] = channel
        for e in mine:
            sends = e.direction == SERVER_TO_CLIENT
            op: dict[str, Any] = {
                "action": "send" if sends else "receive",
                "channel": {"$ref": f"#/channels/{ck}"},
                "summary": f"{e.name} ({ARROW[e.direction]}, {namespace})",
                "messages": [{"$ref": f"#/channels/{ck}/messages/{e.key}"}],
            }
            if e.ack:
                op["reply"] = {
                    "channel": {"$ref": f"#/channels/{ck}"},
                    "messages": [{"$ref": f"#/channels/{ck}/messages/{ack_keys[e.key]}"}],
                }
            operations[model.unique(f"{ck}.{op['action']}.{e.key}", operation_keys)] = op
    doc["channels"] = channels
    doc["operations"] = operations

    messages = {}
    for e in events:
        messages[e.key] = _message(e, meta)
        if e.ack:
            messages[ack_keys[e.key]] = {
                "name": f"{e.name} ack",
                "summary": f"The Socket.IO ack answering `{e.name}`: `{{ok: true, ...}}` or `{{ok: false, code, message}}`.",
                "payload": e.ack_schema or {"$ref": "#/components/schemas/Ack"},
                "x-ack-of": e.name,
            }
    doc["components"] = {
        "schemas": {
            "ReplayMeta": contract["meta_schema"],
            "HandshakeAuth": model.HANDSHAKE_AUTH_SCHEMA,
            "Ack": model.DEFAULT_ACK_SCHEMA,
        },
        "messages": messages,
    }
    return doc


def _description(contract: dict[str, Any]) -> str:
    meta = contract["meta_field"]
    return "\n\n".join(
        part
        for part in (
            contract.get("$comment", ""),
            f"Replay: every server-to-client event sent to a room carries `{meta}` "
            "(components.schemas.ReplayMeta): `seq` increases by one per event in the room, `epoch` "
            "changes when the room's log starts over. A client sends the last ones it saw when it "
            "connects (Socket.IO `auth`, components.schemas.HandshakeAuth) and the server replays what "
            "came after, or sends `resync_required`.",
            "Socket.IO paths: " + ", ".join(f"`{p}`" for p in contract.get("paths", [])) + ".",
        )
        if part
    )


def _message(e: Event, meta: str) -> dict[str, Any]:
    where = ARROW[e.direction]
    if e.direction == SERVER_TO_CLIENT:
        where += ", to " + ("the connection" if e.target != "room" else "rooms " + ", ".join(e.rooms or ("any",)))
    elif e.ack:
        where += ", answered with an ack"
    message: dict[str, Any] = {
        "name": e.name,
        "summary": f"`{e.name}` ({where}).",
        "payload": with_meta(e.schema, meta) if e.to_room else e.schema,
        "x-direction": e.direction,
        "x-target": e.target if e.direction == SERVER_TO_CLIENT else "server",
    }
    if e.doc:
        message["description"] = e.doc
    if e.rooms:
        message["x-rooms"] = list(e.rooms)
    if e.ack:
        message["x-ack"] = True
    if e.seed:
        message["x-seed"] = e.seed
    return message


def with_meta(schema: Any, meta: str) -> Any:
    """The payload of a room event: the contract's schema, with the optional replay metadata in
    every object it can be (the top level, or each of its oneOf / anyOf branches)."""
    schema = copy.deepcopy(schema)

    def add(node: Any) -> None:
        if isinstance(node, dict) and ("properties" in node or node.get("type") == "object"):
            node.setdefault("properties", {})[meta] = {"$ref": "#/components/schemas/ReplayMeta"}

    if isinstance(schema, dict):
        for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
            add(branch)
        add(schema)
    return schema
