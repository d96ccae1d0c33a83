"""Writes for notifications: create (and announce after commit), mark read (owner only)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from realtime.emit import emit, user_room

log = logging.getLogger(__name__)

NAMESPACE = "/notifications"
CONNECT_BACKLOG_LIMIT = 50  # unread notifications pushed to a client that connects without replay positions


class NotificationNotFound(Exception):
    """No such notification, or it belongs to someone else (the two are not told apart)."""


def notify(*, user_id: int, title: str, message: str, kind: str = Notification.Type.INFO) -> Notification:
    """Store a notification for the user and send `notification:new` to their room after commit."""
    with transaction.atomic():
        notification = Notification.objects.create(
            user_id=user_id, title=title[:200], message=message[:2000], type=kind
        )
        emit("notification:new", notification.as_event(), room=user_room(user_id), namespace=NAMESPACE)
    log.info("notification created id=%s user=%s type=%s", notification.pk, user_id, kind)
    return notification


def notify_many(*, user_ids: Iterable[int], title: str, message: str, kind: str = Notification.Type.INFO) -> int:
    with transaction.atomic():
        count = 0
        for user_id in user_ids:
            notify(user_id=user_id, title=title, message=message, kind=kind)
            count += 1
    return count


def tenant_user_ids(tenant_id: int) -> list[int]:
    """Every active user of the tenant (whom a tenant-wide notification is for)."""
    users = get_user_model().objects.filter(profile__tenant_id=tenant_id, is_active=True)
    return sorted(users.values_list("pk", flat=True))


def notify_tenant(*, tenant_id: int, title: str, message: str, kind: str = Notification.Type.INFO) -> int:
    """Store the notification for every user of the tenant (in the caller's transaction, when
    there is one), so a user who was offline when the tenant's room heard the event still sees it."""
    return notify_many(user_ids=tenant_user_ids(tenant_id), title=title, message=message, kind=kind)


def mark_read(*, user_id: int, notification_id: int) -> Notification:
    """Mark the user's notification read (again is fine) and confirm to all their connections."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id, user_id=user_id).first()
        if notification is None:
            raise NotificationNotFound(notification_id)
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
        emit(
            "notification_read_confirmed",
            {"notification_id": notification.pk},
            room=user_room(user_id),
            namespace=NAMESPACE,
        )
    return notification


def unread_for(user_id: int, *, limit: int = 100) -> list[Notification]:
    return list(Notification.objects.filter(user_id=user_id, read_at__isnull=True).order_by("created_at", "id")[:limit])


def newest_unread(user_id: int, *, limit: int = CONNECT_BACKLOG_LIMIT) -> list[Notification]:
    """The user's `limit` newest unread notifications, oldest first (what a connect pushes)."""
    newest = Notification.objects.filter(user_id=user_id, read_at__isnull=True).order_by("-created_at", "-id")
    return list(reversed(newest[:limit]))
