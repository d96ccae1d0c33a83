"""Seed 000 (game backend): its JS client as written, run once under Node; the player applies
for a job, pays, overdraws and offsets a liability over HTTP, and the client reads each result.
Expectations: tests/seeds/expectations.py."""

from __future__ import annotations

import pytest
import requests

from testing import BASE_DIR
from testing.node import run_node

pytestmark = pytest.mark.django_db  # the data is the package's (conftest.py); tests only read


@pytest.fixture(scope="module")
def client(seeds):
    bob = seeds.world.bob
    base = seeds.server.url
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {seeds.jwt()}"

    def on_line(line: dict) -> None:
        if "ready" not in line:
            return
        assert line["ready"] is True
        posts = [
            ("/api/jobs/apply", {"opening_id": seeds.opening.pk, "skills": ["driving"]}),
            (f"/api/bank/{bob.username}/make_payment", {"amount": "30.00", "payee": "Seed 000 diner"}),
            (f"/api/bank/{bob.username}/make_payment", {"amount": "5000.00", "payee": "Seed 000 yacht"}),
            (f"/api/balancesheet/{bob.username}/liability/update", {"liability_id": seeds.liability.pk}),
        ]
        for path, body in posts:
            r = api.post(base + path, json=body, timeout=10)
            assert r.status_code == 202, (path, r.text)

    env = {"SERVER_URL": base, "USERNAME": bob.username, "TOKEN": seeds.jwt()}
    return run_node(BASE_DIR / "tests/seeds/node/seed000_client.mjs", env, on_line, timeout=60)


def events(lines: list[dict], name: str) -> list[dict]:
    return [x["data"] for x in lines if x.get("event") == name]


def test_s000_connect_as_written(client):
    """Differs on purpose (docs/clients.md, authenticate on connect): refused, with a code."""
    refused = next(x["as_written"] for x in client if "as_written" in x)
    assert refused["data"]["code"] == "unauthenticated" and refused["message"]


def test_s000_join_room(client):
    assert {"ready": True} in client and events(client, "error") == []


def test_s000_job_application_complete(client, seeds):
    (done,) = events(client, "job_application_complete")
    assert "error" not in done and done["payload"] and done["username"] == seeds.world.bob.username


def test_s000_payment_complete(client):
    paid = [d for d in events(client, "payment_complete") if "error" not in d]
    assert len(paid) == 1 and paid[0]["payload"]["amount"] == "30.00"


def test_s000_payment_error(client):
    refused = [d for d in events(client, "payment_complete") if "error" in d]
    assert len(refused) == 1 and refused[0]["error"] and refused[0]["message"] and refused[0]["success"] is False


def test_s000_liabilities_offset_complete(client):
    (done,) = events(client, "liabilities_offset_complete")
    assert "error" not in done and done["payload"]
