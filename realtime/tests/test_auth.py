"""Connection auth: JWT, API token, session cookie, and every refusal with a readable reason."""

from __future__ import annotations

import jwt
import pytest
from django.conf import settings

from accounts.models import ApiToken
from realtime.client import RealtimeClient

pytestmark = pytest.mark.django_db(transaction=True)


NAMESPACES = ["/", "/notifications", "/provisioning", "/billing"]


def refused(asgi_server, namespace: str = "/", **kwargs) -> dict:
    client = RealtimeClient(asgi_server.url, reconnection=False, **kwargs)
    with pytest.raises(Exception):  # noqa: B017 (python-socketio raises ConnectionError)
        client.connect(namespaces=[namespace], wait_timeout=5)
    client.wait_until(lambda: client.connect_errors, timeout=5, what="connect_error")
    client.sio.disconnect()
    return client.connect_errors[0]


def forged(world, **overrides) -> str:
    import time

    claims = {
        "sub": str(world.alice.pk),
        "tenant_id": world.acme.pk,
        "exp": int(time.time()) + 60,
        "aud": settings.JWT_AUDIENCE,
        "iss": settings.JWT_ISSUER,
    }
    claims.update(overrides)
    secret = overrides.pop("secret", None) or settings.JWT_SECRET
    claims.pop("secret", None)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


def test_it_accepts_a_jwt_and_joins_user_and_tenant_rooms(world, connect):
    client = connect(world.token(world.alice))
    hello = client.wait_for("connected")
    assert hello["user_id"] == world.alice.pk
    assert hello["tenant_id"] == world.acme.pk
    status = client.wait_for("connection_status")
    assert status["status"] == "connected"


def test_it_refuses_a_bad_signature(world, asgi_server):
    assert (
        refused(asgi_server, token=forged(world, secret="not-the-secret-but-long-enough-0123456789"))["code"]
        == "invalid_token"
    )


def test_it_refuses_an_expired_jwt(world, asgi_server):
    assert refused(asgi_server, token=world.token(world.alice, ttl_seconds=-10))["code"] == "token_expired"


def test_it_refuses_a_wrong_audience(world, asgi_server):
    assert refused(asgi_server, token=forged(world, aud="someone-else"))["code"] == "invalid_audience"


def test_it_refuses_a_wrong_issuer(world, asgi_server):
    assert refused(asgi_server, token=forged(world, iss="evil"))["code"] == "invalid_issuer"


def test_it_refuses_a_token_without_exp(world, asgi_server):
    assert refused(asgi_server, token=forged(world, exp=None))["code"] == "invalid_token"


def test_it_refuses_the_none_algorithm(world, asgi_server):
    token = jwt.encode(
        {"sub": str(world.alice.pk), "aud": settings.JWT_AUDIENCE, "iss": settings.JWT_ISSUER, "exp": 2**31},
        None,
        algorithm="none",
    )
    assert refused(asgi_server, token=token)["code"] == "invalid_token"


def test_it_refuses_an_unknown_api_token(world, asgi_server):
    error = refused(asgi_server, query_token="rt_not-a-real-token")
    assert error["code"] == "invalid_token"
    assert "unknown" in error["message"]


def test_it_refuses_no_credentials(world, asgi_server):
    error = refused(asgi_server)
    assert error["code"] == "unauthenticated"


def test_it_accepts_an_api_token_in_the_query(world, connect):
    _, raw = ApiToken.create_for(user=world.bob, name="ci")
    client = connect(query_token=raw)
    assert client.wait_for("connected")["user_id"] == world.bob.pk


def test_it_refuses_a_revoked_api_token(world, asgi_server):
    from django.utils import timezone

    token, raw = ApiToken.create_for(user=world.bob, name="ci")
    token.revoked_at = timezone.now()
    token.save()
    assert refused(asgi_server, query_token=raw)["code"] == "invalid_token"


def test_it_accepts_the_django_session_cookie(world, connect, session_cookie):
    client = connect(headers={"Cookie": f"sessionid={session_cookie(world.charlie)}"})
    assert client.wait_for("connected")["user_id"] == world.charlie.pk


def test_it_disconnects_when_the_jwt_expires(world, connect):
    client = connect(world.token(world.alice, ttl_seconds=2))
    error = client.wait_for("error", lambda e: e["code"] == "token_expired", timeout=10)
    assert error["message"] == "token has expired"
    client.wait_until(lambda: client.disconnects >= 1, timeout=10, what="disconnect after expiry")


def test_every_namespace_authenticates_the_same_way(world, connect, asgi_server):
    client = connect(world.token(world.alice), namespaces=NAMESPACES)
    for ns in NAMESPACES:
        assert client.wait_for("connected", namespace=ns)["user_id"] == world.alice.pk


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        ("none", "unauthenticated"),
        ("expired_jwt", "token_expired"),
        ("bad_signature", "invalid_token"),
        ("wrong_audience", "invalid_audience"),
        ("unknown_api_token", "invalid_token"),
    ],
)
def test_every_namespace_refuses_bad_credentials(world, asgi_server, namespace, credentials, code):
    kwargs = {
        "none": {},
        "expired_jwt": {"token": world.token(world.alice, ttl_seconds=-10)},
        "bad_signature": {"token": forged(world, secret="not-the-secret-but-long-enough-0123456789")},
        "wrong_audience": {"token": forged(world, aud="someone-else")},
        "unknown_api_token": {"query_token": "rt_not-a-real-token"},
    }[credentials]
    error = refused(asgi_server, namespace=namespace, **kwargs)
    assert error["code"] == code, error
    assert error["message"]
