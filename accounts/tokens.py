"""JWTs for mobile apps and services: HS256 pinned, `exp`, `aud`, `iss` and `sub` required."""

from __future__ import annotations

import time
from typing import Any

import jwt
from django.conf import settings

from realtime.identity import TokenClaims, TokenError  # the realtime package owns the types


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
    return TokenClaims(
        user_id=_id_claim(claims, "sub", required=True),
        tenant_id=_id_claim(claims, "tenant_id", required=False),
        expires_at=float(claims["exp"]),
        issued_at=_issued_at(claims),
    )


def _issued_at(claims: dict[str, Any]) -> float | None:
    value = claims.get("iat")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _id_claim(claims: dict[str, Any], name: str, *, required: bool) -> Any:
    """A database id claim, by type: `sub` is a string of digits (RFC 7519: a string), `tenant_id`
    a JSON integer or null. Anything else ("abc", [1], true, 1.5, "1_0", "١") is refused."""
    value = claims.get(name)
    if value is None and not required:
        return None
    if name == "sub" and isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    if name != "sub" and isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    raise TokenError("invalid_token", f"token claim {name!r} is not a valid id")


def user_for_jwt(token: str) -> tuple[Any, TokenClaims]:
    """The active user a JWT stands for, and its claims: the one check the HTTP Bearer path and
    the realtime connection path share. Refused (TokenError) when the token is invalid, its user
    is gone or disabled, its tenant is not the user's tenant, or it was issued before the user's
    JWT cutoff (accounts.models.JwtCutoff: "Revoke JWTs")."""
    result = users_for_jwts([token])[0]
    if isinstance(result, TokenError):
        raise result
    return result


def users_for_jwts(tokens: list[str]) -> list[tuple[Any, TokenClaims] | TokenError]:
    """`user_for_jwt` for many tokens at once, with one database query for all their users (a
    reconnect storm's handshakes are checked in batches: realtime.auth). One answer per token, in
    order: (user, claims), or the TokenError that refuses it."""
    from django.contrib.auth import get_user_model

    decoded: list[TokenClaims | TokenError] = []
    for token in tokens:
        try:
            decoded.append(decode_jwt(token))
        except TokenError as exc:
            decoded.append(exc)
    ids = {claims.user_id for claims in decoded if isinstance(claims, TokenClaims)}
    users = (
        {
            u.pk: u
            for u in get_user_model().objects.select_related("profile", "jwt_cutoff").filter(pk__in=ids, is_active=True)
        }
        if ids
        else {}
    )
    results: list[tuple[Any, TokenClaims] | TokenError] = []
    for claims in decoded:
        if isinstance(claims, TokenError):
            results.append(claims)
            continue
        try:
            results.append((check_user(users.get(claims.user_id), claims), claims))
        except TokenError as exc:
            results.append(exc)
    return results


def check_user(user: Any, claims: TokenClaims) -> Any:
    """What a valid token's user must be (the user loaded by id, active, with its profile and JWT
    cutoff; None when not found)."""
    if user is None:
        raise TokenError("unknown_user", "the token's user does not exist or is disabled")
    cutoff = getattr(user, "jwt_cutoff", None)
    # `iat` has whole seconds: a token issued in the second of the revocation is refused too
    if cutoff is not None and (claims.issued_at is None or claims.issued_at <= cutoff.valid_after.timestamp()):
        raise TokenError("token_revoked", "token was revoked")
    profile = getattr(user, "profile", None)
    if claims.tenant_id is not None and claims.tenant_id != (profile.tenant_id if profile else None):
        raise TokenError("invalid_token", "token tenant does not match the user's tenant")
    return user
