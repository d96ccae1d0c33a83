"""`manage.py issue_token USERNAME` and `manage.py seed_demo`, run as the processes they are."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import RequestFactory

from accounts.models import ApiToken, Profile, Project
from accounts.tokens import decode_jwt
from testing import BASE_DIR
from testing.processes import process_env

pytestmark = pytest.mark.django_db(transaction=True)


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_issue_token_prints_a_jwt_for_the_user(world):
    result = manage("issue_token", world.charlie.username)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    claims = decode_jwt(token)
    assert (claims.user_id, claims.tenant_id) == (world.charlie.pk, world.globex.pk)


def test_issue_token_honours_ttl(world):
    import time

    result = manage("issue_token", world.bob.username, "--ttl", "120")
    assert result.returncode == 0, result.stderr
    assert 100 < decode_jwt(result.stdout.strip()).expires_at - time.time() <= 120


def test_issue_token_refuses_an_unknown_user_with_a_message(world):
    result = manage("issue_token", "nobody-here")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert "no user named 'nobody-here'" in result.stderr, result.stderr
    assert result.stdout.strip() == ""


def test_seed_demo_creates_alice_and_bob_in_one_tenant_and_carol_in_another(db):
    result = manage("seed_demo")
    assert result.returncode == 0, result.stderr
    for username in ("alice", "bob", "carol"):
        assert f"{username} " in result.stdout  # the logins are printed
    tenant = {p.user.username: p.tenant_id for p in Profile.objects.select_related("user")}
    assert tenant["alice"] == tenant["bob"] != tenant["carol"]
    for username in ("alice", "bob", "carol"):
        # through login throttling (django-axes wants the request, to know the address)
        login = RequestFactory().post("/accounts/login/", REMOTE_ADDR="127.0.0.1")
        assert authenticate(login, username=username, password=f"{username}-demo-pass") is not None
    members = {p.name: {u.username for u in p.members.all()} for p in Project.objects.all()}
    assert members["Apollo"] == {"alice", "bob"}
    assert "carol" not in members["Apollo"] | members["Borealis"]
    assert members["Cygnus"] == {"carol"}
    # a second run refreshes instead of duplicating
    again = manage("seed_demo")
    assert again.returncode == 0, again.stderr
    assert get_user_model().objects.filter(username__in=["alice", "bob", "carol"]).count() == 3
    assert Project.objects.filter(name="Apollo").count() == 1
    assert ApiToken.objects.filter(user__username="bob", name="demo").count() == 1


def test_api_token_issues_a_token_a_client_connects_with_then_revokes_it_by_name(world, asgi_server, connect):
    """`manage.py api_token` (issue 13): printed once, stored hashed, connects a real client with
    `?token=`; revoked by name, the same token is refused on the next connection."""
    from realtime.client import RealtimeClient

    issued = manage("api_token", world.bob.username, "--name", "ci-service")
    assert issued.returncode == 0, issued.stderr
    raw = issued.stdout.strip()
    stored = ApiToken.objects.get(user=world.bob, name="ci-service")
    assert raw.startswith(stored.prefix) and raw not in (stored.key_hash, stored.prefix)
    client = connect(query_token=raw)
    assert client.wait_for("connected")["user_id"] == world.bob.pk
    client.disconnect()

    again = manage("api_token", world.bob.username, "--name", "ci-service")
    assert again.returncode != 0 and "already has an active API token named 'ci-service'" in again.stderr

    listed = manage("api_token", world.bob.username, "--list")
    assert "ci-service" in listed.stdout and raw not in listed.stdout and "active" in listed.stdout

    revoked = manage("api_token", world.bob.username, "--revoke", "ci-service")
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked 1 API token(s)" in revoked.stdout
    refused = RealtimeClient(asgi_server.url, query_token=raw, reconnection=False)
    with pytest.raises(Exception):  # noqa: B017 (python-socketio's ConnectionError)
        refused.connect()
    assert any("invalid_token" in str(err) for err in refused.connect_errors), refused.connect_errors


def test_api_token_refuses_unknown_users_names_and_revocations_with_a_message(world):
    for args, message in [
        (("nobody-here",), "no user named 'nobody-here'"),
        ((world.bob.username, "--revoke", "never-issued"), "has no active API token named 'never-issued'"),
        ((world.bob.username, "--name", " "), "--name must be 1 to 100 printable characters"),
    ]:
        result = manage("api_token", *args)
        assert result.returncode != 0, args
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
