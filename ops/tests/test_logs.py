"""Structured logs: one line per event with the request and job ids, never a payload or a secret.

A real request to a real server enqueues a demo job that a real worker runs: the server's and
the worker's log files have one `realtime.events` line per emit (event, room, seq), each with the
request's id (the worker's with the job's id too), and neither the payloads' text nor the token."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta

import pytest
import requests

from project import logcontext
from realtime.emit import emit, project_room, user_room
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def event_lines(text: str, request_id: str) -> list[str]:
    return [line for line in text.splitlines() if " realtime.events " in line and f"request_id={request_id} " in line]


def test_a_request_and_its_job_log_one_line_per_emit_with_their_ids(world, asgi_server, rq_worker, connect):
    bob = connect(world.token(world.bob))
    room = project_room(world.apollo.pk)
    assert bob.call("subscribe", {"room": room})["ok"] is True
    token = world.token(world.bob)
    request_id = f"test-{uuid.uuid4().hex[:12]}"
    r = requests.post(
        f"{asgi_server.url}/api/projects/{world.apollo.pk}/jobs/demo",
        json={"steps": 3, "step_seconds": 0},
        headers={"Authorization": f"Bearer {token}", logcontext.HEADER: request_id},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    assert r.headers[logcontext.HEADER] == request_id
    job_id = r.json()["job_id"]
    bob.wait_for("agent_status", lambda d: d["job_id"] == job_id and d["status"] == "success", timeout=30)
    sent = [
        (event, data)
        for _, event, data in bob.events
        if event in ("agent_status", "agent_progress") and data["job_id"] == job_id
    ]
    by_worker = [(e, d) for e, d in sent if not (e == "agent_status" and d["status"] == "queued")]
    marker = "step 3 of 3"  # the last progress payload's message
    assert any(d.get("message") == marker for _, d in by_worker)

    # each emit goes to the project room and the job's own room: two lines per event
    wait_until(
        lambda: len(event_lines(rq_worker.log_path.read_text(), request_id)) >= 2 * len(by_worker),
        timeout=10,
        what="the worker's event lines",
    )
    worker_log = rq_worker.log_path.read_text()
    server_log = asgi_server.proc.log_path.read_text()
    worker_lines = event_lines(worker_log, request_id)
    assert len(worker_lines) == 2 * len(by_worker), worker_lines
    for event, data in by_worker:
        seq = data["_meta"]["seq"]
        mine = [line for line in worker_lines if f"event={event} room={room} ns=/ seq={seq}" in line]
        assert len(mine) == 1, (event, seq, worker_lines)
        assert f"request_id={request_id} job={job_id} " in mine[0]
    queued = [d for e, d in sent if e == "agent_status" and d["status"] == "queued"]
    server_lines = event_lines(server_log, request_id)
    assert len(server_lines) == 2  # queued, to both rooms, from the request (no job yet)
    assert f"event=agent_status room={room} ns=/ seq={queued[0]['_meta']['seq']}" in " ".join(server_lines)
    assert all(" job=" not in line for line in server_lines)
    for text in (worker_log, server_log):
        assert marker not in text
        assert token not in text


def test_a_sane_incoming_request_id_is_kept_and_anything_else_replaced(asgi_server):
    for sent, kept in (("abc-123.x:y_z", True), ("", False), ("has space", False), ("x" * 65, False)):
        r = requests.get(f"{asgi_server.url}/healthz", headers={logcontext.HEADER: sent}, timeout=10)
        got = r.headers[logcontext.HEADER]
        assert (got == sent) is kept
        if not kept:
            assert re.fullmatch(r"[0-9a-f]{32}", got)


def test_the_filter_adds_the_ids_and_emit_logs_no_payload(world, caplog):
    caplog.handler.addFilter(logcontext.LogContextFilter())
    marker = f"payload-marker-{uuid.uuid4().hex}"
    token = logcontext.request_id_var.set("req-caplog")
    try:
        with caplog.at_level(logging.INFO, logger="realtime.events"):
            published = emit("test_event", {"n": 1, "source": "view", "text": marker}, room=user_room(world.bob.pk))
    finally:
        logcontext.request_id_var.reset(token)
    records = [r for r in caplog.records if r.name == "realtime.events"]
    assert len(records) == 1
    assert records[0].getMessage() == f"event=test_event room={user_room(world.bob.pk)} ns=/ seq={published.seq}"
    assert (records[0].request_id, records[0].job, records[0].ids) == ("req-caplog", "-", "request_id=req-caplog")
    assert marker not in caplog.text
    assert logcontext.job_meta() == {}  # outside a request again


def test_every_queue_puts_the_request_id_on_its_jobs(private_queue):
    """No call site passes `meta=`: django-rq's queues (RQ["QUEUE_CLASS"]) and jobs.queues'
    queue_named() add the request id to every job they make, stored with the job in Redis."""
    import django_rq
    from rq.job import Job

    from jobs.queues import RequestQueue, queue_named

    assert isinstance(django_rq.get_queue("default"), RequestQueue)
    token = logcontext.request_id_var.set("req-queues")
    try:
        plain = queue_named(private_queue.name).enqueue("ops.tests.support.succeed")
        explicit = queue_named(private_queue.name).enqueue("ops.tests.support.succeed", meta={"mine": 1})
        later = queue_named(private_queue.name).enqueue_in(timedelta(hours=1), "ops.tests.support.succeed")
    finally:
        logcontext.request_id_var.reset(token)
    outside = queue_named(private_queue.name).enqueue("ops.tests.support.succeed")
    stored = {
        j.id: j.meta
        for j in Job.fetch_many(
            [plain.id, explicit.id, later.id, outside.id],
            connection=private_queue.connection,
            serializer=private_queue.serializer,
        )
    }
    assert stored[plain.id] == {logcontext.META_KEY: "req-queues"}
    assert stored[explicit.id] == {logcontext.META_KEY: "req-queues", "mine": 1}
    assert stored[later.id] == {logcontext.META_KEY: "req-queues"}
    assert stored[outside.id] == {}
