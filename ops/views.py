"""GET /api/stats (staff, JSON) and /metrics (Prometheus text: staff session or METRICS_TOKEN)."""

from __future__ import annotations

import hmac
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from accounts.http import ApiError, api_view
from ops import conf, prometheus, stats

log = logging.getLogger(__name__)


@api_view(("GET",))
def stats_view(request: HttpRequest) -> JsonResponse:
    if not (request.user.is_active and request.user.is_staff):
        raise ApiError(403, "staff only", "forbidden")
    return JsonResponse(stats.collect())


def _token_ok(request: HttpRequest) -> bool:
    expected = conf.metrics_token()
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), expected.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not (_token_ok(request) or (user.is_authenticated and user.is_active and user.is_staff)):
        status = 403 if user.is_authenticated or "Authorization" in request.headers else 401
        log.info("metrics refused status=%s", status)
        return JsonResponse({"error": "staff session or metrics token required", "code": "forbidden"}, status=status)
    return HttpResponse(prometheus.render(), content_type=CONTENT_TYPE_LATEST)
