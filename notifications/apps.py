from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from notifications import handlers  # noqa: F401  (registers notification_read, notifications_unread, the unread backlog)
