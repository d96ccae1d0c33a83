"""JWTs for mobile apps and services: HS256 pinned, `exp`, `aud`, `iss` and `sub` required."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from django.conf import settings


class TokenError(Exception):
    """A token was refused; `code` is machine-readable, `str(err)` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    tenant_id: int | None
    expires_at: float


def issue_jwt(*, user, ttl_seconds: int | None = None) -> str:
    now = int(time.time())
    profile = getattr(user, "profile", None)
    claims = {
        "sub": str(user.pk),
        "tenant_id": profile.tenant_id if profile else None,
        "username": user.get_username(),
        "iat": now,
        "exp": now + (ttl_seconds if ttl_seconds is not None else settings.JWT_TTL_SECONDS),
        "aud": settings.JWT_AUDIENCE,
        "iss": settings.JWT_ISSUER,
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=settings.JWT_ALGORITHM)


def decode_jwt(token: str) -> TokenClaims:
    if not isinstance(token, str) or not token:
        raise TokenError("invalid_token", "token must be a non-empty string")
    try:
        claims = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[settings.JWT_ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            options={"require": ["exp", "aud", "iss", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token_expired", "token has expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError("invalid_audience", "token audience is not accepted") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenError("invalid_issuer", "token issuer is not accepted") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("invalid_token", f"token is missing claim {exc.claim!r}") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("invalid_token", "token is malformed or its signature is invalid") from exc
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise TokenError("invalid_token", "token subject is not a user id") from exc
    tenant = claims.get("tenant_id")
    return TokenClaims(
        user_id=user_id, tenant_id=int(tenant) if tenant is not None else None, expires_at=float(claims["exp"])
    )
