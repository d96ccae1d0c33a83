"""Seed 004 (multi-tenant ERP): its JS client as written (`/ws`, `/ws/provisioning`,
`/ws/notifications`, JWT in `auth.token`), run once under Node while its tenant is provisioned
and a notification is sent to its user. Expectations: tests/seeds/expectations.py."""

from __future__ import annotations

import pytest
import requests

from testing import BASE_DIR
from testing.node import run_node

pytestmark = pytest.mark.django_db  # the data is the package's (conftest.py); tests only read


def run_client(seeds, user, django_db_blocker) -> list[dict]:
    """The seed's client for `user`, while the test provisions the user's tenant and notifies them."""

    def on_line(line: dict) -> None:
        if "ready" not in line:
            return
        r = requests.post(
            f"{seeds.server.url}/api/provisioning",
            json={},
            headers={"Authorization": f"Bearer {seeds.jwt(user)}"},
            timeout=10,
        )
        assert r.status_code == 202, r.text
        from notifications.services import notify

        with django_db_blocker.unblock():
            notify(user_id=user.pk, title="Invoice paid", message="Thank you", kind="billing")

    env = {"SERVER_URL": seeds.server.url, "TOKEN": seeds.jwt(user)}
    return run_node(BASE_DIR / "tests/seeds/node/seed004_client.mjs", env, on_line, timeout=60)


@pytest.fixture(scope="module")
def client(seeds, django_db_blocker):
    return run_client(seeds, seeds.world.bob, django_db_blocker)


@pytest.fixture(scope="module")
def failing(seeds, django_db_blocker):
    """The same client for dave, whose tenant's slug is not a DNS label."""
    return run_client(seeds, seeds.dave, django_db_blocker)


def events(lines: list[dict], name: str, on: str | None = None) -> list[dict]:
    return [x["data"] for x in lines if x.get("event") == name and x.get("on") == on]


def test_s004_connected(client, seeds):
    connected = events(client, "connected")
    assert connected and {(c["user_id"], c["tenant_id"]) for c in connected} == {
        (seeds.world.bob.pk, seeds.world.acme.pk)
    }
    assert all(c["message"] for c in connected)


def test_s004_ping_pong(client):
    assert [x for x in client if x.get("event") == "pong"] == [{"event": "pong", "args": []}]


def test_s004_error_message(client):
    (error,) = events(client, "error")
    assert error["message"] and error["code"] == "unknown_event"


def test_s004_status_update(client):
    updates = events(client, "status:update")
    assert updates and updates[-1]["progress"] == 100


def test_s004_status_completed(client, seeds):
    (done,) = events(client, "status:completed")
    assert done["erpnext_url"].startswith(f"https://{seeds.world.acme.slug}.")


def test_s004_status_failed(failing, seeds):
    (failed,) = events(failing, "status:failed")
    assert failed["tenant_id"] == seeds.dave.profile.tenant_id and "not a valid DNS label" in failed["error"]
    assert events(failing, "status:completed") == [] and {"done": True} in failing


def sent(client: list[dict]) -> dict:
    """The test's notification (unread ones from earlier seeds' payments come first, on connect)."""
    (note,) = [n for n in events(client, "notification:new") if n["title"] == "Invoice paid"]
    return note


def test_s004_notification_new(client):
    note = sent(client)
    assert (note["title"], note["message"], note["type"]) == ("Invoice paid", "Thank you", "billing")


def test_s004_notification_read(client):
    confirmed = [c["notification_id"] for c in events(client, "notification_read_confirmed")]
    assert sent(client)["id"] in confirmed
    assert sorted(confirmed) == sorted(n["id"] for n in events(client, "notification:new"))


def test_s004_dart_root_provisioning(client):
    """Differs on purpose (docs/clients.md: provisioning events are in `/provisioning`): the root
    socket gets none, the provisioning socket gets them all."""
    assert {"done": True} in client
    assert [x for x in client if x.get("on") == "root"] == []
    assert events(client, "status:completed")
