"""Seed 002 (AI-agent job platform): its JS client as written (realtime/tests/node/
seed002_client.mjs: `?token=`, `subscribe_project 'project_456'`), run once under Node while a
job of that project runs; it unsubscribes once the job succeeded.
Expectations: tests/seeds/expectations.py."""

from __future__ import annotations

import pytest
import requests

from testing import BASE_DIR
from testing.node import run_node

pytestmark = pytest.mark.django_db  # the data is the package's (conftest.py); tests only read


@pytest.fixture(scope="module")
def client(seeds):
    def on_line(line: dict) -> None:
        if "ready" in line:
            assert line["ready"] is True, line
            r = requests.post(
                f"{seeds.server.url}/api/projects/project_456/jobs/demo",
                json={"steps": 3, "step_seconds": 0.05},
                headers={"Authorization": f"Bearer {seeds.jwt()}"},
                timeout=10,
            )
            assert r.status_code == 202, r.text

    env = {"SERVER_URL": seeds.server.url, "TOKEN": seeds.api_token}
    return run_node(BASE_DIR / "realtime/tests/node/seed002_client.mjs", env, on_line, timeout=60)


def events(lines: list[dict], name: str) -> list[dict]:
    return [x["data"] for x in lines if x.get("event") == name]


def test_s002_query_token(client):
    assert {"ready": True} in client and not [x for x in client if "error" in x]


def test_s002_subscribe_project(client):
    assert events(client, "agent_status")  # only subscribers of project:<apollo> get them


def test_s002_agent_status(client):
    statuses = events(client, "agent_status")
    assert [s["status"] for s in statuses][-1] == "success" and "running" in [s["status"] for s in statuses]
    assert len({s["job_id"] for s in statuses}) == 1 and "result" in statuses[-1]


def test_s002_agent_progress(client):
    progress = events(client, "agent_progress")
    assert progress[-1]["progress"] == 100 and all(p["job_id"] and "message" in p for p in progress)


def test_s002_unsubscribe_project(client, seeds):
    unsubscribed = next(x["unsubscribed"] for x in client if "unsubscribed" in x)
    assert unsubscribed["ok"] is True and unsubscribed["room"] == f"project:{seeds.world.apollo.pk}"
