"""Django's error handlers (handler400/403/404/500 in project/urls.py) and its CSRF failure
view: JSON `{error, code}` under the API (`/api/...`, `/start-automation`), Django's own pages
elsewhere. The API's own refusals are made in realtime/http.py; these catch what never reaches
an API view (an unknown path, a request Django refused before routing it)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults

from accounts.http import is_api_path


def _json(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": message, "code": code}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return _json(400, "bad_request", "bad request")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return _json(403, "forbidden", "forbidden")
    return defaults.permission_denied(request, exception)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return _json(404, "not_found", "no such endpoint")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path):
        return _json(500, "internal_error", "internal error; it is logged with this request's X-Request-ID")
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW."""
    if is_api_path(request.path):
        return _json(403, "csrf_failed", "CSRF check failed")
    return csrf.csrf_failure(request, reason)
