"""JWT claims are checked by type, in one place (accounts.tokens.user_for_jwt), with the same
tenant rule on the HTTP Bearer path and the realtime connection path (issue 21, defect 4: a
`tenant_id` of "abc" or [1] gave HTTP 500 and an int() traceback on the socket path, and HTTP
accepted a token whose tenant was not the user's)."""

from __future__ import annotations

import pytest
import requests

from realtime.tests.test_auth import forged, refused

pytestmark = pytest.mark.django_db(transaction=True)


def bad_tokens(world) -> dict[str, str]:
    return {
        "tenant_id string": forged(world, tenant_id="abc"),
        "tenant_id list": forged(world, tenant_id=[1]),
        "tenant_id bool": forged(world, tenant_id=True),
        "tenant_id float": forged(world, tenant_id=float(world.acme.pk)),
        "tenant_id numeric string": forged(world, tenant_id=str(world.acme.pk)),
        "tenant_id object": forged(world, tenant_id={"id": world.acme.pk}),
        "tenant_id huge": forged(world, tenant_id=2**70),
        "other tenant": forged(world, tenant_id=world.globex.pk),
        "sub underscore digits": forged(world, sub=f"{world.alice.pk}_0"),
        "sub arabic-indic digits": forged(world, sub="١"),
        "sub huge": forged(world, sub="9" * 40),
    }


def test_the_http_bearer_path_refuses_each_bad_claim_with_401_json(world, asgi_server):
    url = asgi_server.url + "/api/notifications"
    ok = requests.get(url, headers={"Authorization": f"Bearer {world.token(world.alice)}"}, timeout=10)
    assert ok.status_code == 200, ok.text
    for name, token in bad_tokens(world).items():
        r = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 401, (name, r.status_code, r.text[:300])
        assert r.json()["code"] == "invalid_token", name
    assert "Traceback" not in asgi_server.proc.log()


def test_the_socket_path_refuses_each_bad_claim_with_the_same_code(world, asgi_server):
    for name, token in bad_tokens(world).items():
        assert refused(asgi_server, token=token)["code"] == "invalid_token", name
    assert "Traceback" not in asgi_server.proc.log()


def test_a_token_without_tenant_claim_is_accepted_on_both_paths(world, asgi_server, connect):
    token = forged(world, tenant_id=None)  # no claim at all: the user's own tenant applies
    r = requests.get(asgi_server.url + "/api/notifications", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    assert connect(token).wait_for("connected")["tenant_id"] == world.acme.pk
