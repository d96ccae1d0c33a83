"""Who the host's users are, as the package needs to know them: the identity backend.

The host names a class in the REALTIME_IDENTITY setting (realtime.host resolves it once, at
start). The package keeps the handshake's rules (realtime.auth: a JWT in `auth.token`, an API
token in `?token=`, or the Django session cookie); the backend answers the questions only the
host can: which users a batch of JWTs stands for, whose an API token is, a user's tenant.

`IdentityBackend` itself is a complete backend for a host with Django sessions only (no tenants):
JWTs and API tokens are refused with a clear code. Subclass it to accept them
(accounts.identity.AccountsIdentity is this project's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet


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
    issued_at: float | None = None  # `iat`; a token without one is refused once its user has a cutoff


class IdentityBackend:
    """Django session users only; override what your project accepts."""

    def users(self) -> QuerySet:
        """The users a handshake may stand for (active ones are filtered by the caller)."""
        return get_user_model().objects.all()

    def tenant_of(self, user: Any) -> int | None:
        """The user's tenant id (its `tenant:{id}` room is joined on connect), or None."""
        return None

    def users_for_jwts(self, tokens: list[str]) -> list[tuple[Any, TokenClaims] | TokenError]:
        """One answer per token, in order: (user, claims) or the TokenError refusing it. Called in
        a thread with a batch of tokens (a reconnect storm's handshakes share one call)."""
        return [TokenError("jwt_not_accepted", "this server does not accept JWTs") for _ in tokens]

    def user_for_jwt(self, token: str) -> tuple[Any, TokenClaims]:
        """A Bearer JWT of an HTTP request (realtime.http); TokenError when refused."""
        result = self.users_for_jwts([token])[0]
        if isinstance(result, TokenError):
            raise result
        return result

    async def api_token_owner(self, raw: str) -> tuple[int, int] | None:
        """(user id, token id) of a live API token, else None (refused as `invalid_token`)."""
        return None
