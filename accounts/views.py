from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest, JsonResponse

from accounts.http import ApiError, api_view, json_body
from accounts.tokens import issue_jwt


@api_view(("POST",), anonymous=True)
def token(request: HttpRequest) -> JsonResponse:
    """POST /api/auth/token {username, password} -> {token, token_type, expires_in}."""
    body = json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise ApiError(400, "username and password are required strings", "invalid_input")
    # NUL and other control characters never reach the lookup (PostgreSQL text cannot hold NUL):
    # the body parser refused them (realtime/http.py). A locked-out username or address is
    # answered 429 by django-axes (accounts/throttle.py) before the password is checked.
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        raise ApiError(401, "invalid username or password", "invalid_credentials")
    return JsonResponse({"token": issue_jwt(user=user), "token_type": "Bearer", "expires_in": settings.JWT_TTL_SECONDS})
