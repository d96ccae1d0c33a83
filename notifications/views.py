"""GET /api/notifications[?unread=1]: a user's notifications as stored (what a client that was
offline, or got `resync_required`, reloads). POST /api/notifications/<id>/read marks one read."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from accounts.http import ApiError, api_view
from notifications import services
from notifications.models import Notification


@api_view(("GET",))
def notification_list(request: HttpRequest) -> JsonResponse:
    unread = request.GET.get("unread", "")
    if unread not in ("", "0", "1", "true", "false"):
        raise ApiError(400, "unread must be 1 or 0", "invalid_input")
    raw_limit = request.GET.get("limit", "100")
    # ASCII digits only: int() also takes "1_00", " 5" and Arabic-Indic or other Unicode digits
    if not (raw_limit.isascii() and raw_limit.isdigit()) or len(raw_limit) > 3:
        raise ApiError(400, "limit must be an integer from 1 to 500", "invalid_input")
    limit = int(raw_limit)
    if not 1 <= limit <= 500:
        raise ApiError(400, "limit must be from 1 to 500", "invalid_input")
    rows = Notification.objects.filter(user=request.user)
    if unread in ("1", "true"):
        rows = rows.filter(read_at__isnull=True)
    rows = rows.order_by("created_at", "id")
    return JsonResponse(
        {
            "notifications": [n.as_state() for n in rows[:limit]],
            "unread_count": Notification.objects.filter(user=request.user, read_at__isnull=True).count(),
        }
    )


@api_view(("POST",))
def notification_read(request: HttpRequest, notification_id: int) -> JsonResponse:
    try:
        notification = services.mark_read(user_id=request.user.pk, notification_id=notification_id)
    except services.NotificationNotFound:
        raise ApiError(404, "no such notification of yours", "not_found") from None
    return JsonResponse({"notification_id": notification.pk, "read": True})
