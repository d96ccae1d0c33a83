"""Small helpers every JSON view uses: who is calling (session or Bearer JWT) and a parsed body.

Views stay short: `@api_view` turns ApiError into a 4xx JSON answer and refuses anonymous callers.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.tokens import TokenError, user_for_jwt

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str = "bad_request", **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.extra = extra

    def response(self) -> JsonResponse:
        return JsonResponse({"error": str(self), "code": self.code, **self.extra}, status=self.status)


def bearer_user(request: HttpRequest):
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        user, _ = user_for_jwt(header[len("Bearer ") :].strip())
    except TokenError as exc:
        raise ApiError(401, str(exc), exc.code) from exc
    return user


def json_body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "request body is not valid JSON", "invalid_json") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object", "invalid_json")
    return body


def api_view(methods: tuple[str, ...] = ("POST",), *, anonymous: bool = False) -> Callable:
    """JSON endpoint: session (with CSRF) or Bearer JWT (no CSRF: not a cookie credential)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            if request.method not in methods:
                return JsonResponse(
                    {"error": f"method {request.method} not allowed", "code": "method_not_allowed"}, status=405
                )
            try:
                user = bearer_user(request)
                if user is not None:
                    request.user = user
                elif not anonymous:
                    if not request.user.is_authenticated:
                        raise ApiError(401, "authentication required", "unauthenticated")
                    from django.middleware.csrf import CsrfViewMiddleware

                    reason = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                    if reason is not None:
                        raise ApiError(403, "CSRF check failed", "csrf_failed")
                return view(request, *args, **kwargs)
            except ApiError as exc:
                log.info("api %s %s -> %s %s", request.method, request.path, exc.status, exc.code)
                return exc.response()

        return csrf_exempt(wrapper)

    return decorate
