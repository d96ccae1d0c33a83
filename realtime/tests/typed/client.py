"""A small typed Python client over the generated TypedDicts (realtime/contract_types.py) and
realtime.client.RealtimeClient. Only type-checked (mypy --strict --warn-unused-ignores, by
realtime/tests/test_typed_clients.py): each `# type: ignore[...]` marks a mistake the types must
refuse (were a type `Any`, the unused ignore would fail the check)."""

from __future__ import annotations

from realtime import contract_types as ct
from realtime.client import RealtimeClient

positions: dict[str, ct.ReplayMeta] = {}


def keep(meta: ct.ReplayMeta | None) -> None:
    if meta is not None:
        positions[meta["room"]] = meta


def on_progress(data: ct.AgentProgressPayload) -> None:
    percent: float = data["progress"]
    message: str | None = data["message"]
    keep(data.get("_meta"))
    print(data["job_id"], round(percent), message or "")


def on_status(data: ct.AgentStatusPayload) -> None:
    if data["status"] == "error":
        print(data["job_id"], (data["error"] or "").upper())
    keep(data.get("_meta"))


def follow_a_project(client: RealtimeClient, project_id: int) -> bool:
    ct.on(client, "agent_progress", on_progress)
    ct.on(client, "agent_status", on_status)
    ct.on(client, "resync_required", lambda d: positions.pop(d["room"], None) and None)
    ct.on(client, "notification:new", lambda d: print(d["title"], d["created_at"]))
    ack: ct.Ack = ct.call(client, "subscribe_project", {"project_id": project_id})
    ct.call(client, "notification_read", {"notification_id": 3}, namespace="/notifications")
    ct.call(client, "echo", {"n": 1}, namespace="/billing")
    return ack["ok"]


def mistakes(client: RealtimeClient) -> None:
    ct.call(client, "subscribe", {"rooms": "project:1"})  # type: ignore[call-overload]
    ct.call(client, "echo", {"n": "1"})  # type: ignore[call-overload]
    ct.call(client, "subscribe_projects", {"project_id": 1})  # type: ignore[call-overload]
    ct.call(client, "subscribe_project", {"project_id": 1}, namespace="/billing")  # type: ignore[call-overload]
    ct.on(client, "agent_progress", on_status)  # type: ignore[call-overload]
    ct.on(client, "agent_progress", lambda d: d["percent"])  # type: ignore[call-overload]
