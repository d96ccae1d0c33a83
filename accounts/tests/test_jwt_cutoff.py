"""JWT revocation before `exp` (issue 17): a per-user "valid after" time. A JWT issued at or before
it is refused over HTTP (Bearer) as on sockets; one issued after it works; other users' are not
touched. And which live connections a revocation command targets (realtime.revocation.Command)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import jwt as pyjwt
import pytest
from django.conf import settings
from django.test import Client

from accounts.models import JwtCutoff
from accounts.tokens import TokenError, issue_jwt, user_for_jwt
from realtime.auth import Identity
from realtime.revocation import Command

pytestmark = pytest.mark.django_db


def _token(user, iat: int) -> str:
    claims = {
        "sub": str(user.pk),
        "iat": iat,
        "exp": iat + 3600,
        "aud": settings.JWT_AUDIENCE,
        "iss": settings.JWT_ISSUER,
    }
    return pyjwt.encode(claims, settings.JWT_SECRET, algorithm=settings.JWT_ALGORITHM)


def test_a_jwt_issued_before_the_cutoff_is_refused_and_one_after_it_works(world):
    now = int(time.time())  # PyJWT refuses an `iat` in the future: the cutoff is a second ago
    before, at, after = _token(world.bob, now - 10), _token(world.bob, now - 1), _token(world.bob, now)
    JwtCutoff.objects.create(user=world.bob, valid_after=datetime.fromtimestamp(now - 1, UTC))
    for token in (before, at):
        with pytest.raises(TokenError) as refused:
            user_for_jwt(token)
        assert refused.value.code == "token_revoked"
    assert user_for_jwt(after)[0] == world.bob
    assert user_for_jwt(issue_jwt(user=world.alice))[0] == world.alice  # not her cutoff


def test_a_jwt_without_iat_is_refused_once_its_user_has_a_cutoff(world):
    claims = {"sub": str(world.bob.pk), "exp": int(time.time()) + 60}
    claims |= {"aud": settings.JWT_AUDIENCE, "iss": settings.JWT_ISSUER}
    token = pyjwt.encode(claims, settings.JWT_SECRET, algorithm=settings.JWT_ALGORITHM)
    assert user_for_jwt(token)[0] == world.bob
    JwtCutoff.objects.create(user=world.bob, valid_after=datetime.fromtimestamp(0, UTC))
    with pytest.raises(TokenError):
        user_for_jwt(token)


def test_http_bearer_gets_401_token_revoked(world):
    token = _token(world.bob, int(time.time()) - 5)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert Client().get(f"/api/projects/{world.apollo.pk}/jobs", **headers).status_code == 200
    JwtCutoff.objects.create(user=world.bob, valid_after=datetime.now(UTC))
    answer = Client().get(f"/api/projects/{world.apollo.pk}/jobs", **headers)
    assert answer.status_code == 401 and answer.json()["code"] == "token_revoked"


def _identity(via: str, **extra) -> Identity:
    return Identity(user_id=7, username="bob", tenant_id=1, is_staff=False, via=via, **extra)


def test_a_command_targets_the_user_and_what_it_names():
    session = _identity("session", session_key="abc")
    api = _identity("api_token", api_token_id=3)
    jwt_old, jwt_new = _identity("jwt", issued_at=100.0), _identity("jwt", issued_at=200.0)
    everyone = [session, api, jwt_old, jwt_new]
    close = Command("close", 7, "access_revoked", "m")
    assert [close.matches(i) for i in everyone] == [True] * 4
    assert not Command("close", 8, "access_revoked", "m").matches(session)
    by_session = Command("close", 7, "access_revoked", "m", via="session", session_key="abc")
    assert [by_session.matches(i) for i in everyone] == [True, False, False, False]
    assert not Command("close", 7, "x", "m", via="session", session_key="other").matches(session)
    by_token = Command("close", 7, "token_revoked", "m", via="api_token", api_token_id=3)
    assert [by_token.matches(i) for i in everyone] == [False, True, False, False]
    by_cutoff = Command("close", 7, "token_revoked", "m", jwt_issued_before=150.0)
    assert [by_cutoff.matches(i) for i in everyone] == [False, False, True, False]
    assert Command.from_json(by_cutoff.to_json()) == by_cutoff
    with pytest.raises(ValueError):
        Command.from_json('{"action": "explode", "user_id": 7}')
