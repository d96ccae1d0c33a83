"""Projects have a string key (issue 13): seed 002's client code, as the seed writes it, subscribes
with `project_id: 'project_456'` and follows a job; the jobs API takes the key wherever it takes
the id; keys are per tenant, so another tenant's key names nothing."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests

from accounts.models import ApiToken, Project
from testing import BASE_DIR

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_project_answers_to_its_own_key_or_the_derived_one_in_its_tenant_only(world):
    from accounts.projects import UnknownProject, project_id_for

    acme, globex = world.acme.pk, world.globex.pk
    assert world.apollo.client_key == f"project_{world.apollo.pk}"
    assert project_id_for(f"project_{world.apollo.pk}", acme) == world.apollo.pk  # derived
    assert project_id_for(str(world.apollo.pk), acme) == world.apollo.pk  # the id, as before
    world.apollo.key = "apollo"
    world.apollo.save()
    assert world.apollo.client_key == "apollo"
    assert project_id_for("apollo", acme) == world.apollo.pk
    with pytest.raises(UnknownProject):
        project_id_for("apollo", globex)  # keys are per tenant
    # the same key in another tenant is another project; an own key wins over a derived one
    Project.objects.create(tenant=world.globex, name="Other", key="apollo")
    world.cygnus.key = f"project_{world.apollo.pk}"
    world.cygnus.save()
    assert project_id_for(f"project_{world.apollo.pk}", globex) == world.cygnus.pk
    for bad in ("no such key!", "x" * 21, "", None, ["apollo"]):
        with pytest.raises(UnknownProject):
            project_id_for(bad, acme)


def test_the_jobs_api_takes_the_key_where_it_takes_the_id(world, asgi_server):
    headers = {"Authorization": f"Bearer {world.token(world.bob)}"}
    by_id = requests.get(f"{asgi_server.url}/api/projects/{world.apollo.pk}/jobs", headers=headers, timeout=10)
    by_key = requests.get(f"{asgi_server.url}/api/projects/{world.apollo.client_key}/jobs", headers=headers, timeout=10)
    assert by_id.status_code == by_key.status_code == 200, (by_id.text, by_key.text)
    assert by_id.json() == by_key.json()
    # charlie's tenant has no such key; bob is not in charlie's project
    outsider = {"Authorization": f"Bearer {world.token(world.charlie)}"}
    r = requests.get(f"{asgi_server.url}/api/projects/{world.apollo.client_key}/jobs", headers=outsider, timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = requests.get(f"{asgi_server.url}/api/projects/{world.cygnus.client_key}/jobs", headers=headers, timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_subscribe_project_by_key_checks_the_tenant_and_membership(world, connect):
    bob = connect(world.token(world.bob))
    assert (
        bob.call("subscribe_project", {"project_id": world.apollo.client_key})["room"] == f"project:{world.apollo.pk}"
    )
    assert bob.call("unsubscribe_project", {"project_id": world.apollo.client_key})["ok"] is True
    world.cygnus.key = "cygnus"
    world.cygnus.save()
    refused = bob.call("subscribe_project", {"project_id": "cygnus"})  # another tenant's key
    assert refused["ok"] is False and refused["code"] == "invalid_room"
    refused = bob.call("subscribe_project", {"project_id": "no such key!"})
    assert refused["ok"] is False and refused["code"] == "invalid_room"


def test_seed_002s_client_code_as_written_follows_a_job_by_project_key(world, asgi_server, rq_worker):
    node = shutil.which("node")
    assert node, "node is required (make test installs the npm packages)"
    world.apollo.key = "project_456"  # the seed's own key
    world.apollo.save()
    _, api_token = ApiToken.create_for(user=world.bob, name="seed-002")  # the seed sends ?token=
    client = subprocess.Popen(
        [node, str(BASE_DIR / "realtime/tests/node/seed002_client.mjs")],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "SERVER_URL": asgi_server.url, "TOKEN": api_token},
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[dict] = []
    try:
        for raw in client.stdout:  # ends when the client closes (after the job's success) or dies
            if not raw.startswith("{"):
                continue  # the seed's own console.log lines
            line = json.loads(raw)
            lines.append(line)
            if "ready" in line:
                assert line["ready"] is True, line
                r = requests.post(
                    f"{asgi_server.url}/api/projects/project_456/jobs/demo",
                    json={"steps": 3, "step_seconds": 0.05},
                    headers={"Authorization": f"Bearer {world.token(world.bob)}"},
                    timeout=10,
                )
                assert r.status_code == 202, r.text
        client.wait(60)
    finally:
        if client.poll() is None:
            client.kill()
    assert not [line for line in lines if "error" in line], lines
    statuses = [line["data"]["status"] for line in lines if line.get("event") == "agent_status"]
    assert statuses[-1] == "success" and "running" in statuses, lines
    progress = [line["data"]["progress"] for line in lines if line.get("event") == "agent_progress"]
    assert progress and progress[-1] == 100, lines
    unsubscribed = next(line["unsubscribed"] for line in lines if "unsubscribed" in line)
    assert unsubscribed["ok"] is True and unsubscribed["room"] == f"project:{world.apollo.pk}"
