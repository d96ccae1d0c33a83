"""emit() from every context reaches a real client in the room, and nobody outside it.

The negative check needs no sleep: after the event, a sentinel is sent to the outsider's own
room from the same process. Redis and the server keep one publisher's messages in order, so if
the event had leaked to the outsider it would have arrived before the sentinel."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import django_rq
import pytest
import requests
from rq.serializers import JSONSerializer

from realtime.emit import aemit, emit, user_room
from testing import BASE_DIR
from testing.processes import process_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(world, connect):
    alice = connect(world.token(world.alice))
    charlie = connect(world.token(world.charlie))
    return world, alice, charlie


def assert_not_received(outsider, world, n: int) -> None:
    sentinel = 10_000_000 + n
    emit("test_event", {"n": sentinel, "source": "sentinel"}, room=user_room(world.charlie.pk))
    outsider.wait_for("test_event", lambda d: d["n"] == sentinel, timeout=10)
    assert [d for d in outsider.received("test_event") if d["n"] == n] == []


def test_it_emits_from_a_sync_view(pair, asgi_server):
    world, alice, charlie = pair
    world.bob.is_staff = True
    world.bob.save()
    r = requests.post(
        asgi_server.url + "/api/realtime/test-event",
        json={"room": user_room(world.alice.pk), "n": 1},
        headers={"Authorization": f"Bearer {world.token(world.bob)}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    assert r.json()["receivers"] >= 1 and "warning" not in r.json()
    event = alice.wait_for("test_event", lambda d: d["n"] == 1)
    assert event["source"] == "view"
    assert event["_meta"]["room"] == user_room(world.alice.pk)
    assert_not_received(charlie, world, 1)


def test_the_test_event_view_is_staff_only(world, asgi_server):
    r = requests.post(
        asgi_server.url + "/api/realtime/test-event",
        json={"room": user_room(world.charlie.pk), "n": 1},
        headers={"Authorization": f"Bearer {world.token(world.alice)}"},
        timeout=10,
    )
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"


def test_it_emits_from_an_async_handler_on_the_server(pair):
    world, alice, charlie = pair
    ack = alice.call("echo", {"n": 2})
    assert ack["ok"] is True
    event = alice.wait_for("test_event", lambda d: d["n"] == 2)
    assert event["source"] == "echo"
    assert event["_meta"]["seq"] == ack["seq"]
    assert_not_received(charlie, world, 2)


def test_it_emits_from_an_rq_job_in_a_worker_process(pair, rq_worker):
    world, alice, charlie = pair
    queue = django_rq.get_queue("default", serializer=JSONSerializer)
    queue.enqueue(
        "realtime.diagnostics.emit_test_event_job", kwargs={"room": user_room(world.alice.pk), "n": 3}, job_timeout=30
    )
    event = alice.wait_for("test_event", lambda d: d["n"] == 3, timeout=20)
    assert event["source"] == "rq"
    assert_not_received(charlie, world, 3)


def test_it_emits_from_a_plain_thread(pair):
    world, alice, charlie = pair
    errors: list[BaseException] = []

    def run() -> None:
        try:
            emit("test_event", {"n": 4, "source": "thread"}, room=user_room(world.alice.pk))
        except BaseException as exc:  # noqa: BLE001 (reported to the test)
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert errors == []
    assert alice.wait_for("test_event", lambda d: d["n"] == 4)["source"] == "thread"
    assert_not_received(charlie, world, 4)


def test_it_emits_from_a_foreign_event_loop_in_another_thread(pair):
    """Seed 001: a monitoring loop on its own asyncio loop in a thread; its emits went nowhere."""
    world, alice, charlie = pair
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def monitoring_tick() -> None:
        emit("test_event", {"n": 5, "source": "foreign-loop-sync"}, room=user_room(world.alice.pk))
        await aemit("test_event", {"n": 55, "source": "foreign-loop-async"}, room=user_room(world.alice.pk))

    try:
        asyncio.run_coroutine_threadsafe(monitoring_tick(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert alice.wait_for("test_event", lambda d: d["n"] == 5)["source"] == "foreign-loop-sync"
    assert alice.wait_for("test_event", lambda d: d["n"] == 55)["source"] == "foreign-loop-async"
    assert_not_received(charlie, world, 5)
    assert_not_received(charlie, world, 55)


def test_it_emits_from_a_management_command(pair):
    world, alice, charlie = pair
    out = subprocess.run(
        [sys.executable, "manage.py", "emit_test_event", user_room(world.alice.pk), "--n", "6"],
        cwd=BASE_DIR,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "sent test_event n=6" in out.stdout
    assert "received by 1 server process(es)" in out.stdout  # the suite's one daphne
    assert alice.wait_for("test_event", lambda d: d["n"] == 6)["source"] == "command"
    assert_not_received(charlie, world, 6)


def test_it_emits_to_a_tenant_room_only_to_that_tenant(pair, connect):
    world, alice, charlie = pair
    bob = connect(world.token(world.bob))
    emit("test_event", {"n": 7}, room=f"tenant:{world.acme.pk}")
    alice.wait_for("test_event", lambda d: d["n"] == 7)
    bob.wait_for("test_event", lambda d: d["n"] == 7)
    assert_not_received(charlie, world, 7)


def test_a_plain_write_only_redis_manager_reaches_the_room(pair, asgi_server):
    """Interop: a process that only has python-socketio (no Django, no realtime.emit) can still
    emit through the documented write-only Redis manager on SOCKETIO_CHANNEL. Its events reach the
    room's clients on every server, without a sequence number (they are not in the replay log:
    emit() is what gives that promise, see docs/scaling.md)."""
    import socketio
    from django.conf import settings

    world, alice, charlie = pair
    plain = socketio.RedisManager(settings.REDIS_URL, channel=settings.SOCKETIO_CHANNEL, write_only=True)
    plain.emit("test_event", {"n": 7, "source": "write-only"}, room=user_room(world.alice.pk), namespace="/")
    event = alice.wait_for("test_event", lambda d: d["n"] == 7)
    assert event["source"] == "write-only" and "_meta" not in event
    assert_not_received(charlie, world, 7)


def test_the_command_fails_when_no_server_process_is_listening(world, asgi_server):
    """An event that no server process could receive is not reported as sent (issue 13): here the
    command publishes on a channel no server subscribes to, as one pointed at another Redis does."""
    out = subprocess.run(
        [sys.executable, "manage.py", "emit_test_event", user_room(world.alice.pk), "--n", "42"],
        cwd=BASE_DIR,
        env=process_env(SOCKETIO_CHANNEL="nobody-listens-here"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "reached no server process" in out.stderr
    assert process_env()["REDIS_URL"] in out.stderr  # names the Redis it used (no password here)
    assert "Traceback" not in out.stderr


def test_the_redis_url_is_named_without_its_password(settings):
    from realtime.diagnostics import redis_url_for_humans

    settings.REDIS_URL = "redis://ops:s3cret@redis.internal:6380/2"
    assert redis_url_for_humans() == "redis://ops:***@redis.internal:6380/2"
    settings.REDIS_URL = "redis://:s3cret@127.0.0.1:6379/0"
    assert redis_url_for_humans() == "redis://:***@127.0.0.1:6379/0"
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert redis_url_for_humans() == "redis://127.0.0.1:6379/0"
