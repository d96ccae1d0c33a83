"""Zulip's stale-copy test for our snapshots: subscribe to a project (snapshot + the sequence
number it corresponds to), keep that copy, apply every later event of the room to it while jobs
run, fail and start, then compare the copy with a fresh snapshot and with the HTTP state."""

from __future__ import annotations

import copy

import pytest
import requests

from jobs.services import enqueue_tracked
from realtime.emit import project_room

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = ("status", "progress", "message", "result", "error")


def apply(state: dict, event: str, data: dict) -> None:
    """What a client does with each project event (the page's JS does the same)."""
    jobs = {j["job_id"]: j for j in state["jobs"]}
    job = jobs.get(data["job_id"])
    if job is None:
        job = {
            "job_id": data["job_id"],
            "status": "queued",
            "progress": 0,
            "message": "",
            "result": None,
            "error": None,
        }
        state["jobs"].insert(0, job)
    if event == "agent_status":
        job["status"] = data["status"]
        job["result"] = data["result"]
        job["error"] = data["error"]
        if data["status"] == "success":
            job["progress"] = 100
    elif event == "agent_progress":
        job["progress"] = data["progress"]
        job["message"] = data["message"] or ""


def comparable(state: dict) -> dict:
    return {j["job_id"]: {f: j[f] for f in FIELDS} for j in state["jobs"]}


def test_it_keeps_a_stale_copy_equal_to_a_fresh_snapshot(world, connect, rq_worker):
    token = world.token(world.bob)
    bob = connect(token)
    room = project_room(world.apollo.pk)
    running = enqueue_tracked(
        "jobs.tasks.demo_job",
        kind="demo",
        kwargs={"steps": 8, "step_seconds": 0.1},
        project=world.apollo,
        user=world.alice,
    )
    alice = connect(world.token(world.alice))
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    alice.wait_for("agent_progress", lambda d: d["job_id"] == str(running.pk), timeout=30)
    # bob subscribes while the job runs: his snapshot catches it mid-way
    ack = bob.call("subscribe_project", {"project_id": world.apollo.pk})
    stale, since = copy.deepcopy(ack["snapshot"]), ack["seq"]
    assert [j["status"] for j in stale["jobs"]] == ["running"]
    later = [
        enqueue_tracked(
            "jobs.tasks.demo_job", kind="demo", kwargs={"steps": 3, "step_seconds": 0.05}, project=world.apollo
        ),
        enqueue_tracked(
            "jobs.tasks.demo_job",
            kind="demo",
            kwargs={"steps": 4, "step_seconds": 0.05, "fail_at": 2},
            project=world.apollo,
        ),
    ]
    for record in (running, *later):
        bob.wait_for(
            "agent_status",
            lambda d, r=record: (
                d["job_id"] == str(r.pk) and d["status"] in ("success", "error") and d["_meta"]["room"] == room
            ),
            timeout=60,
        )
    applied = 0
    for _, event, data in list(bob.events):
        if (
            event in ("agent_status", "agent_progress")
            and data["_meta"]["room"] == room
            and data["_meta"]["seq"] > since
        ):
            apply(stale, event, data)
            applied += 1
    assert applied > 0
    fresh = bob.call("subscribe", {"room": room})["snapshot"]
    assert comparable(stale) == comparable(fresh)
    over_http = requests.get(
        f"{bob.url}/api/projects/{world.apollo.pk}/jobs", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert comparable(over_http) == comparable(fresh)
    assert {j["status"] for j in fresh["jobs"]} == {"success", "error"}
