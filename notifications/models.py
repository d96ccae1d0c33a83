"""Notifications are stored per user: the database is what a client reloads unread ones from."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notification(models.Model):
    class Type(models.TextChoices):
        INFO = "info"
        SUCCESS = "success"
        WARNING = "warning"
        ERROR = "error"
        BILLING = "billing"
        JOB = "job"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=200)
    message = models.TextField(max_length=2000)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.INFO)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return f"{self.title} -> {self.user}"

    def as_event(self) -> dict:
        """`notification:new`'s payload (seed 004)."""
        return {
            "id": self.pk,
            "title": self.title,
            "message": self.message,
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }

    def as_state(self) -> dict:
        return {**self.as_event(), "read": self.read_at is not None}
