"""A client offline for a while and back, inside and outside the replay window. Inside, it gets
every missed event once, in order. Outside (the log was trimmed to its length limit, is older
than its age limit, or was lost: a new epoch), it gets `resync_required` for the room, reloads
the state over HTTP, and follows the live events from there."""

from __future__ import annotations

import time

import pytest
import requests

from jobs.services import enqueue_tracked
from realtime import eventlog
from realtime.emit import emit, project_room, user_room
from realtime.redis import sync_client
from testing.counts import record_counts
from tools.embedded_redis import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def ns(client, room: str) -> list[int]:
    return [d["n"] for d in client.received("test_event") if d["_meta"]["room"] == room]


def reload_jobs(url: str, token: str, project_id: int) -> dict:
    answer = requests.get(
        f"{url}/api/projects/{project_id}/jobs", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200
    return answer.json()


def test_it_replays_everything_missed_inside_the_window(world, connect):
    alice = connect(world.token(world.alice))
    mine = user_room(world.alice.pk)
    emit("test_event", {"n": 1}, room=mine)
    alice.wait_for("test_event", lambda d: d["n"] == 1)
    alice.disconnect()
    missed = 500  # below REPLAY_LOG_MAXLEN (1000)
    for n in range(2, missed + 2):
        emit("test_event", {"n": n}, room=mine)
    alice.reconnect()
    alice.wait_for("test_event", lambda d: d["n"] == missed + 1, timeout=20)
    assert ns(alice, mine) == list(range(1, missed + 2))
    record_counts(
        "offline inside the window",
        {
            "events_sent": missed + 1,
            "events_received": len(ns(alice, mine)),
            "replayed": missed,
            "duplicates_dropped_client": alice.duplicates,
            "resyncs": len(alice.resyncs),
        },
    )


def test_it_asks_for_a_resync_when_the_log_was_trimmed(world, connect, settings, rq_worker):
    settings.REPLAY_LOG_MAXLEN = 10  # the emitter trims (XADD MAXLEN ~): whole nodes of 100 go
    token = world.token(world.alice)
    alice = connect(token)
    project = project_room(world.apollo.pk)
    ack = alice.call("subscribe_project", {"project_id": world.apollo.pk})
    emit("test_event", {"n": 1}, room=project)
    alice.wait_for("test_event", lambda d: d["n"] == 1)
    alice.disconnect()
    job = enqueue_tracked(
        "jobs.tasks.demo_job", kind="demo", kwargs={"steps": 2, "step_seconds": 0.01}, project=world.apollo
    )
    for n in range(2, 400):
        emit("test_event", {"n": n}, room=project)
    alice.reconnect()
    resync = alice.wait_for("resync_required", lambda d: d["room"] == project)
    assert resync["reason"] == "log_truncated"
    # the client reloads over HTTP, then follows the live events
    state = reload_jobs(alice.url, token, world.apollo.pk)
    assert str(job.pk) in [j["job_id"] for j in state["jobs"]]
    emit("test_event", {"n": 400}, room=project)
    alice.wait_for("test_event", lambda d: d["n"] == 400)
    assert ns(alice, project) == [1, 400]
    assert ack["seq"] >= 0
    record_counts(
        "offline outside the window (log trimmed)",
        {
            "events_sent": 400,
            "events_received": len(ns(alice, project)),
            "duplicates_dropped_client": alice.duplicates,
            "resyncs": len(alice.resyncs),
            "reason": resync["reason"],
        },
    )


def test_it_asks_for_a_resync_when_the_log_is_older_than_its_age_limit(world, connect):
    from testing.processes import start_server

    server = start_server(free_port(), REPLAY_LOG_MAX_AGE_SECONDS="1")
    try:
        alice = connect(world.token(world.alice), url=server.url)
        mine = user_room(world.alice.pk)
        emit("test_event", {"n": 1}, room=mine)
        alice.wait_for("test_event", lambda d: d["n"] == 1)
        alice.disconnect()
        emit("test_event", {"n": 2}, room=mine)
        time.sleep(1.5)  # time itself is the condition: away longer than the log's age limit
        alice.reconnect()
        assert alice.wait_for("resync_required", lambda d: d["room"] == mine)["reason"] == "log_expired"
        assert ns(alice, mine) == [1]
        alice.disconnect()
    finally:
        server.proc.stop()


def test_it_asks_for_a_resync_when_the_log_was_lost(world, connect):
    alice = connect(world.token(world.alice))
    mine = user_room(world.alice.pk)
    emit("test_event", {"n": 1}, room=mine)
    alice.wait_for("test_event", lambda d: d["n"] == 1)
    alice.disconnect()
    # what a Redis that restarted empty looks like for this room: no state, no log
    sync_client().delete(eventlog.state_key("/", mine), eventlog.log_key("/", mine))
    emit("test_event", {"n": 2}, room=mine)  # a new epoch starts
    alice.reconnect()
    assert alice.wait_for("resync_required", lambda d: d["room"] == mine)["reason"] == "epoch_changed"
    emit("test_event", {"n": 3}, room=mine)
    alice.wait_for("test_event", lambda d: d["n"] == 3)
    assert ns(alice, mine) == [1, 3]


def test_it_asks_for_a_resync_when_a_client_claims_to_be_ahead(world, connect):
    alice = connect(world.token(world.alice))
    mine = user_room(world.alice.pk)
    head = emit("test_event", {"n": 1}, room=mine)
    alice.wait_for("test_event", lambda d: d["n"] == 1)
    alice.disconnect()
    alice.positions["/"][mine] = {"seq": head.seq + 50, "epoch": head.epoch}
    alice.reconnect()
    assert alice.wait_for("resync_required", lambda d: d["room"] == mine)["reason"] == "ahead_of_server"
