from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse

from realtime import outbox
from realtime.redis import sync_client


def healthz(request: HttpRequest) -> JsonResponse:
    """503 while Redis does not answer (events are then deferred: `outbox` says how many wait)."""
    extra: dict[str, Any] = {}
    try:
        extra["outbox"] = outbox.backlog()
    except DatabaseError as exc:
        extra["database"] = exc.__class__.__name__
    try:
        sync_client().ping()
    except Exception as exc:
        return JsonResponse({"status": "unhealthy", "redis": exc.__class__.__name__, **extra}, status=503)
    if "database" in extra:
        return JsonResponse({"status": "unhealthy", **extra}, status=503)
    return JsonResponse({"status": "ok", **extra})
