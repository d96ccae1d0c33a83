"""The event outbox (realtime/outbox.py): an event emitted in a transaction is stored with it,
published after the commit and its row deleted; when Redis does not take it, the commit still
succeeds, the event is deferred and the relay publishes it later, in order per room, once."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from realtime import emit as emit_module
from realtime import eventlog, metrics, outbox
from realtime.emit import EmitError, batch, emit, emit_many, user_room
from realtime.models import OutboxEvent
from realtime.redis import sync_client
from testing import redis_clients
from testing.processes import start_own_redis
from testing.waits import drain, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def relay_until_empty() -> bool:
    outbox.relay_once()
    return not OutboxEvent.objects.exists()


def numbers(client, room: str) -> list[int]:
    return [d["n"] for d in client.received("test_event") if d["_meta"]["room"] == room and d.get("source") != "drain"]


def test_an_event_of_a_transaction_is_published_after_commit_and_its_row_deleted(world, connect):
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    with transaction.atomic():
        emit("test_event", {"n": 1}, room=room)
        row = OutboxEvent.objects.get(room=room)  # stored with the transaction
        assert (row.event, row.payload, row.deferred) == ("test_event", {"n": 1}, False)
    alice.wait_for("test_event", lambda d: d["n"] == 1)
    assert not OutboxEvent.objects.exists()


def test_a_rolled_back_transaction_leaves_no_row_and_no_event(world, connect):
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        emit("test_event", {"n": 1}, room=room)
        raise RuntimeError("rollback")
    assert not OutboxEvent.objects.exists()
    drain(alice, room)
    assert numbers(alice, room) == []


def test_redis_down_defers_instead_of_raising_and_the_relay_publishes_in_order(world, settings):
    """On a Redis of the test's own, stopped then started again with its data: what was emitted
    meanwhile is in the room's log afterwards, in order, each once."""
    own = start_own_redis(persist=True)
    try:
        settings.REDIS_URL = own.url
        room, other = user_room(world.alice.pk), user_room(world.bob.pk)
        with redis_clients.fresh():
            emit("test_event", {"n": 0}, room=room)  # the room's state exists before the outage
            own.stop()
            before = metrics.snapshot().get("emit_deferred", 0)
            started = time.monotonic()
            with transaction.atomic():  # the commit succeeds; nothing is raised
                emit_many([("test_event", {"n": 1}, room), ("test_event", {"n": 2}, room)])
            with transaction.atomic():
                emit("test_event", {"n": 3}, room=room)  # behind the deferred ones: not even tried
            assert time.monotonic() - started < 2 * settings.REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS + 1
            assert metrics.snapshot()["emit_deferred"] - before == 3
            # outside a transaction an emit still raises, unless it asks for durable delivery
            with pytest.raises(EmitError):
                emit("test_event", {"n": 99}, room=other)
            assert emit("test_event", {"n": 4}, room=room, durable=True) is None
            assert outbox.relay_once() == (0, 4)  # Redis still down: nothing published, all kept
            assert OutboxEvent.objects.filter(deferred=True).count() == 4
            own.start()
            assert outbox.relay_once() == (4, 0)
            assert not OutboxEvent.objects.exists()
            messages, position = eventlog.read_recent(sync_client(), "/", room, limit=10)
    finally:
        own.stop()
    assert [m["data"][0]["n"] for m in messages] == [0, 1, 2, 3, 4]
    assert [m["data"][0]["_meta"]["seq"] for m in messages] == [1, 2, 3, 4, 5] and position.seq == 5


def test_a_retry_whose_first_attempt_ran_is_not_published_twice(world, connect):
    """The reply to a publish was lost (Redis ran it): the row is still there and the relay sends
    it again; the publish step answers the first attempt's position and publishes nothing."""
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    with transaction.atomic():
        [item] = outbox.store([emit_module._prepare("test_event", {"n": 7}, room, None)])
    first = outbox._publish_now([item])[0][0][1]  # published, but its row not settled: as if the reply was lost
    OutboxEvent.objects.filter(pk=item.outbox_id).update(deferred=True)
    wait_until(relay_until_empty, timeout=15, what="the outbox drained")
    again = outbox._publish_now([item])[0][0][1]
    assert (again.seq, again.epoch) == (first.seq, first.epoch)
    drain(alice, room)
    assert numbers(alice, room) == [7]


def test_an_event_of_a_room_with_deferred_events_waits_behind_them(world):
    room, other = user_room(world.alice.pk), user_room(world.bob.pk)
    with pytest.raises(RuntimeError), transaction.atomic():  # rolled back: the relay never sees them
        OutboxEvent.objects.create(
            created_at=timezone.now(),
            event="test_event",
            room=room,
            namespace="/",
            payload={"n": 1},
            deferred=True,
            target=outbox.target(),
        )
        emit_many([("test_event", {"n": 2}, room), ("test_event", {"n": 3}, other)])
        assert dict(OutboxEvent.objects.filter(payload__n__in=[2, 3]).values_list("room", "deferred")) == {
            room: True,
            other: False,
        }
        raise RuntimeError("rollback")


def test_the_backlog_is_reported():
    assert outbox.backlog() == {"waiting": 0, "oldest_age_seconds": 0.0}
    # not deferred and younger than the grace period: no relay takes it during the test
    OutboxEvent.objects.create(
        created_at=timezone.now() - timedelta(seconds=2),
        event="test_event",
        room="user:1",
        namespace="/",
        payload={"n": 1},
        target=outbox.target(),
    )
    backlog = outbox.backlog()
    assert backlog["waiting"] == 1 and 2 <= backlog["oldest_age_seconds"] < 5


def test_a_batch_in_a_transaction_is_stored_with_it_and_published_after_commit(world, connect):
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    with transaction.atomic(), batch() as sent:
        for n in (1, 2, 3):
            emit("test_event", {"n": n}, room=room)
        assert OutboxEvent.objects.filter(room=room).count() == 3
    assert [p.seq for p in sent.published] == sorted(p.seq for p in sent.published) and len(sent.published) == 3
    alice.wait_for("test_event", lambda d: d["n"] == 3)
    assert numbers(alice, room) == [1, 2, 3]
    assert not OutboxEvent.objects.exists()


def test_a_reused_row_id_is_a_new_event_not_a_repeat(world, connect):
    """A database recreated under the same Redis (a fresh `make run` database, a restore) starts
    its ids over: an event stored under an id that was already published in the room must still
    be published (it is not a retry). Seen: a fresh database on make run's kept private Redis
    announced none of a project's job events."""
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    with transaction.atomic():
        emit("test_event", {"n": 1}, room=room)
        first_id = OutboxEvent.objects.get(room=room).pk
    alice.wait_for("test_event", lambda d: d["n"] == 1)
    assert not OutboxEvent.objects.exists()
    table = OutboxEvent._meta.db_table
    with connection.cursor() as cursor:  # the ids start over, as in a new database
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, first_id])
        else:
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [first_id - 1, table])
    with transaction.atomic():
        emit("test_event", {"n": 2}, room=room)
        assert OutboxEvent.objects.get(room=room).pk == first_id  # the id again
    alice.wait_for("test_event", lambda d: d["n"] == 2, timeout=10)
    wait_until(lambda: not OutboxEvent.objects.exists(), timeout=10, what="the second row deleted")
    assert numbers(alice, room) == [1, 2]


def _relay_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "outbox-relay"]


def test_the_relay_thread_ends_with_its_server(settings):
    """A server's relay thread stops when the server task is cancelled, and when the event loop
    it was started from is closed without cancelling it (an in-process ASGI app in a test)."""
    settings.REALTIME_OUTBOX_RELAY_INTERVAL_SECONDS = 0.05
    before = set(_relay_threads())

    async def serve_briefly():
        task = asyncio.get_running_loop().create_task(outbox.run(None))
        await asyncio.sleep(0)  # the task starts its thread on its first step
        wait_until(lambda: set(_relay_threads()) - before, timeout=5, what="the relay thread")
        task.cancel()

    asyncio.run(serve_briefly())
    for thread in set(_relay_threads()) - before:
        thread.join(5)
        assert not thread.is_alive(), "the relay thread outlived its cancelled task"

    loop = asyncio.new_event_loop()
    task = loop.create_task(outbox.run(None))  # referenced: only the closed loop may stop it
    loop.run_until_complete(asyncio.sleep(0))  # one turn: the task's first step starts its thread
    wait_until(lambda: set(_relay_threads()) - before, timeout=5, what="the relay thread")
    started = set(_relay_threads()) - before
    loop.close()  # the task is still pending: it never gets to stop the thread itself
    for thread in started:
        thread.join(5)
        assert not thread.is_alive(), "the relay thread outlived its event loop"
    assert not task.done()  # it was the closed loop, not the task's end, that stopped the thread
