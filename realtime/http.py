"""Small helpers every JSON view uses: who is calling (session or Bearer JWT) and a parsed body.

Views stay short: `@api_view` turns ApiError into a 4xx JSON answer and refuses anonymous callers.
Every request an `@api_view` endpoint gets goes through the same checks, in this order, each
answered with JSON `{error, code}`: the method (405), the body's size (413, `API_MAX_BODY_BYTES`)
and media type (415: a body must be `application/json`), the caller (401, CSRF 403) and the body
itself (400: one parser, `parse_json_body`, with a nesting limit, `API_MAX_JSON_DEPTH`, and no
control characters or lone surrogates in any string). A view reads the parsed body with
`json_body(request)`. A Redis or database outage inside a view (RedisError, EmitError,
OperationalError: the change did not commit) answers 503 JSON with `Retry-After`, and so does
every ApiError 503 (events of a committed change never raise: the event outbox defers them).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from realtime import host
from realtime.emit import EmitError
from realtime.identity import TokenError

log = logging.getLogger(__name__)

# C0 controls but tab, newline and carriage return; DEL and the C1 controls; lone UTF-16
# surrogates (JSON's "\ud800" escapes: no UTF-8 encoding, so PostgreSQL and psycopg refuse them).
FORBIDDEN_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Single-line fields (a payee, a skill) refuse tab, newline and carriage return too.
FORBIDDEN_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_PARSED = "_api_json_body"
# A Redis or database outage inside a view: 503 JSON with Retry-After, never an HTML 500.
UNAVAILABLE = (RedisError, EmitError, OperationalError)
RETRY_AFTER_SECONDS = 5


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
        user, _ = host.identity().user_for_jwt(header[len("Bearer ") :].strip())
    except TokenError as exc:
        raise ApiError(401, str(exc), exc.code) from exc
    return user


def is_api_path(path: str) -> bool:
    """A path whose answers, errors included, are JSON."""
    return path.startswith("/api/") or path == "/start-automation"


def _too_large() -> ApiError:
    limit = settings.API_MAX_BODY_BYTES
    return ApiError(413, f"request body is larger than {limit} bytes", "body_too_large", limit=limit)


def check_body_envelope(request: HttpRequest) -> None:
    """The body's declared size and media type, before anything reads it (413, 415, 400)."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isascii() or not declared.isdigit():
        raise ApiError(400, "Content-Length must be a number of bytes", "bad_request")
    if int(declared) > settings.API_MAX_BODY_BYTES:
        raise _too_large()
    if not int(declared) and "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return  # no body
    if request.content_type != "application/json":
        raise ApiError(415, "a request body must be JSON (Content-Type: application/json)", "unsupported_media_type")
    if request.encoding and request.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ApiError(415, "a JSON body must be UTF-8", "unsupported_media_type")


def refuse_control_characters(value: str, name: str, *, single_line: bool = False) -> str:
    """`value`, or 400 `invalid_text` when it holds a control character (NUL included) or a lone
    surrogate; `single_line` refuses tab, newline and carriage return too."""
    pattern = FORBIDDEN_IN_LINE if single_line else FORBIDDEN_IN_TEXT
    if pattern.search(value):
        raise ApiError(400, f"{name} must not contain control characters", "invalid_text")
    return value


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _check_tree(body: Any) -> None:
    """Nesting depth (API_MAX_JSON_DEPTH) and every string, keys included, without recursion."""
    max_depth = settings.API_MAX_JSON_DEPTH
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list) and depth > max_depth:
            raise ApiError(400, f"request body is nested deeper than {max_depth} levels", "too_deep")
        if isinstance(value, dict):
            for key, item in value.items():
                refuse_control_characters(key, "a key")
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            refuse_control_characters(value, "a string value")


def parse_json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body ({} for none): the one parser of every JSON endpoint."""
    check_body_envelope(request)
    try:
        raw = request.body
    except RequestDataTooBig:
        raise _too_large() from None
    if len(raw) > settings.API_MAX_BODY_BYTES:  # a chunked body declares no length
        raise _too_large()
    if not raw:
        return {}
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise ApiError(400, "request body is nested too deeply", "too_deep") from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "request body is not valid JSON", "invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object", "invalid_json")
    _check_tree(body)
    return body


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The body `@api_view` parsed (parse_json_body) before the view ran."""
    if not hasattr(request, _PARSED):
        setattr(request, _PARSED, parse_json_body(request))
    return getattr(request, _PARSED)


def _authenticate(request: HttpRequest, *, anonymous: bool) -> None:
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


def api_view(methods: tuple[str, ...] = ("POST",), *, anonymous: bool = False) -> Callable:
    """JSON endpoint: session (with CSRF) or Bearer JWT (no CSRF: not a cookie credential)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            try:
                if request.method not in methods:
                    raise ApiError(405, f"method {request.method[:16]} not allowed", "method_not_allowed")
                check_body_envelope(request)
                _authenticate(request, anonymous=anonymous)
                json_body(request)
                return view(request, *args, **kwargs)
            except ApiError as exc:
                log.info("api %s %s -> %s %s", request.method[:16], request.path[:200], exc.status, exc.code)
                response = exc.response()
                if exc.status == 405:
                    response["Allow"] = ", ".join(methods)
                if exc.status == 503:
                    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return response
            except UNAVAILABLE as exc:
                # Redis or the database failed before the change committed (what commits is
                # announced through the event outbox, which does not raise): nothing was done.
                log.warning("api %s %s -> 503: %s", request.method[:16], request.path[:200], exc.__class__.__name__)
                response = ApiError(
                    503, "temporarily unavailable, nothing was changed; try again", "unavailable"
                ).response()
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return response

        # the endpoint sweep and the HTTP fuzzer (accounts/tests) find every JSON endpoint by these
        wrapper.api_methods = methods
        wrapper.api_anonymous = anonymous
        return csrf_exempt(wrapper)

    return decorate
