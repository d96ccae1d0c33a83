"""Client events of the /notifications namespace, and what a connection to it missed while away
(registered in NotificationsConfig.ready)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from notifications import services
from project import ids
from realtime import handlers
from realtime.auth import Identity

NAMESPACE = services.NAMESPACE


def parse_id(raw: Any) -> int:
    notification_id = ids.parse_id(raw.strip() if isinstance(raw, str) else raw)
    if notification_id is None:
        raise handlers.EventError("invalid_payload", "notification_id must be a notification's numeric id")
    return notification_id


@handlers.on("notification_read", namespace=NAMESPACE)
async def notification_read(identity: Identity, data: dict[str, Any]) -> dict[str, Any]:
    notification_id = parse_id(data["notification_id"])
    try:
        await sync_to_async(services.mark_read)(user_id=identity.user_id, notification_id=notification_id)
    except services.NotificationNotFound:
        raise handlers.EventError("not_found", f"no notification {notification_id} of yours") from None
    return {"notification_id": notification_id}


@handlers.on("notifications_unread", namespace=NAMESPACE)
async def notifications_unread(identity: Identity, data: dict[str, Any]) -> dict[str, Any]:
    """What a client that was away asks for after connecting: its unread notifications, oldest first."""
    found = await sync_to_async(services.unread_for)(identity.user_id, limit=data.get("limit", 100))
    return {"notifications": [n.as_state() for n in found]}


@handlers.backlog(namespace=NAMESPACE)
async def unread_on_connect(identity: Identity) -> list[tuple[str, dict[str, Any]]]:
    """A client that connects without replay positions (seed 004's keep none) gets its newest
    unread notifications as `notification:new`, oldest first, so nothing sent while away is lost."""
    found = await sync_to_async(services.newest_unread)(identity.user_id)
    return [("notification:new", n.as_event()) for n in found]
