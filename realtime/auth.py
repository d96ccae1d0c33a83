"""Who is connecting: a JWT in `auth.token`, an API token in `?token=`, or the Django session.

Every refusal carries a machine-readable code and a message the client can show.

The host's identity backend (REALTIME_IDENTITY, realtime.identity) answers what only it knows:
which users JWTs stand for, whose an API token is, a user's tenant. A JWT handshake is checked in
the database every time (the user exists, is active, its tenant), but not one query per
handshake: handshakes that arrive while a check is under way wait for the next one, which checks
all of them with one query (realtime.batching). Alone, a handshake is checked at once; in a
reconnect storm, hundreds share a query and a thread hop."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async

from realtime import host
from realtime.batching import Batcher
from realtime.identity import TokenClaims, TokenError

log = logging.getLogger(__name__)


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def as_error(self) -> dict[str, str]:
        return {"message": str(self), "code": self.code}


@dataclass(frozen=True)
class Identity:
    user_id: int
    username: str
    tenant_id: int | None
    is_staff: bool
    via: str  # "jwt", "api_token" or "session"
    expires_at: float | None = None  # JWTs only: the connection is closed then
    # What a revocation targets (realtime.revocation): the session, the API token, the JWT's `iat`
    session_key: str | None = None
    api_token_id: int | None = None
    issued_at: float | None = None


async def _user_identity(user_id: int, via: str, **extra: Any) -> Identity:
    user = await host.identity().users().filter(pk=user_id, is_active=True).afirst()
    if user is None:
        raise Refused("unknown_user", "the token's user does not exist or is disabled")
    return _identity(user, via, **extra)


def _identity(user: Any, via: str, **extra: Any) -> Identity:
    return Identity(
        user_id=user.pk,
        username=user.get_username(),
        tenant_id=host.identity().tenant_of(user),
        is_staff=user.is_staff,
        via=via,
        **extra,
    )


def _query_token(environ: dict[str, Any]) -> str | None:
    values = parse_qs(environ.get("QUERY_STRING", "")).get("token")
    return values[0] if values else None


async def identify(environ: dict[str, Any], auth: Any) -> Identity:
    if auth is not None and not isinstance(auth, dict):
        raise Refused("invalid_auth", "auth must be an object")
    token = (auth or {}).get("token")
    if token is not None:
        return await _from_jwt(token)
    query_token = _query_token(environ)
    if query_token:
        if query_token.count(".") == 2:  # a JWT passed in the query string
            return await _from_jwt(query_token)
        return await _from_api_token(query_token)
    scope = environ.get("asgi.scope") or {}
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        session = scope.get("session")
        return await _user_identity(user.pk, "session", session_key=getattr(session, "session_key", None))
    raise Refused("unauthenticated", "authentication required: send auth.token, ?token= or a session cookie")


async def _from_jwt(token: Any) -> Identity:
    if not isinstance(token, str):
        raise Refused("invalid_token", "auth.token must be a string")
    try:
        user, claims = await _jwt_checks.submit(token)
    except TokenError as exc:
        raise Refused(exc.code, str(exc)) from exc
    return _identity(user, "jwt", expires_at=claims.expires_at, issued_at=claims.issued_at)


MAX_JWT_BATCH = 500  # tokens checked by one query (its `IN (...)` list)


async def _check_jwts(tokens: list[str]) -> list[tuple[Any, TokenClaims] | TokenError]:
    return await sync_to_async(host.identity().users_for_jwts)(tokens)


_jwt_checks: Batcher[str, tuple[Any, TokenClaims]] = Batcher("JWT checks", _check_jwts, MAX_JWT_BATCH)


async def _from_api_token(raw: str) -> Identity:
    if len(raw) > 200:
        raise Refused("invalid_token", "API token is too long")
    owner = await host.identity().api_token_owner(raw)
    if owner is None:
        raise Refused("invalid_token", "unknown or revoked API token")
    user_id, token_id = owner
    return await _user_identity(user_id, "api_token", api_token_id=token_id)
