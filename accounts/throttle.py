"""Login throttling (django-axes, configured in project/settings.py): how a locked-out login is
answered and which address a login comes from.

`POST /api/auth/token` (and any path under /api/) gets 429 JSON `{error, code: "locked_out",
retry_after}` with a `Retry-After` header; the login form gets templates/registration/lockout.html
with status 429. Attempts and lockouts are listed in the admin (Axes: access attempts, access
failures) and cleared there or with `manage.py axes_reset`.
"""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

log = logging.getLogger(__name__)


def retry_after_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def client_address(request: HttpRequest) -> str | None:
    """The peer address the ASGI server saw, or None when there is none that is an IP address
    (a login made in code, a Unix socket): axes' records store it in an IP-address column,
    which PostgreSQL checks. Behind a proxy this is the proxy (docs/troubleshooting.md)."""
    address = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the answer to a login while its username or address is locked out."""
    wait = retry_after_seconds()
    log.warning("login locked out path=%s address=%s retry_after=%s", request.path[:200], client_address(request), wait)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {
                "error": f"too many failed logins; try again in {wait} seconds",
                "code": "locked_out",
                "retry_after": wait,
            },
            status=429,
        )
    else:
        context = {"retry_after": wait, "retry_after_minutes": max(1, round(wait / 60))}
        response = render(request, "registration/lockout.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response
