"""Demo notifications: a welcome for each demo user who has none."""

from __future__ import annotations

from notifications.models import Notification
from notifications.services import notify


def seed(users: dict) -> list[str]:
    for user in users.values():
        if not Notification.objects.filter(user=user).exists():
            notify(user_id=user.pk, title="Welcome", message="Notifications sent while you are away wait here.")
    return ["  notifications: a welcome notification per demo user (GET /api/notifications?unread=1)"]
