"""emit_many() and `with batch():` send bursts in one Redis round trip per BATCH_MAX events,
keeping every promise of emit(): each event's sequence number, log entry and publish in one
atomic step, in order per room; validated where emitted; after commit, dropped by a rollback;
a failure raises EmitError saying how many were published."""

from __future__ import annotations

import pytest
from django.db import transaction

from realtime import contract, eventlog, metrics
from realtime import emit as emit_module
from realtime.emit import EMIT_COUNTS_KEY, EmitError, Event, batch, emit, emit_many, project_room, user_room
from realtime.redis import sync_client
from testing import redis_clients
from testing.waits import drain
from tools.embedded_redis import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def received(client, room: str) -> list[dict]:
    return [d for d in client.received("test_event") if d["_meta"]["room"] == room and d.get("source") != "drain"]


def test_a_burst_arrives_in_order_with_consecutive_sequence_numbers(world, connect, monkeypatch):
    monkeypatch.setattr(emit_module, "BATCH_MAX", 7)  # several round trips, one burst
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    first = emit("test_event", {"n": 0}, room=room)
    published = emit_many([("test_event", {"n": n}, room) for n in range(1, 51)])
    assert [p.seq for p in published] == list(range(first.seq + 1, first.seq + 51))
    assert {p.epoch for p in published} == {first.epoch}
    alice.wait_for("test_event", lambda d: d["n"] == 50)
    got = received(alice, room)
    assert [d["n"] for d in got] == list(range(51))
    assert [d["_meta"]["seq"] for d in got] == list(range(first.seq, first.seq + 51))
    assert alice.duplicates == 0


def test_a_batch_block_keeps_each_rooms_order_and_sends_at_its_end(world, connect):
    alice = connect(world.token(world.alice))
    mine, project = user_room(world.alice.pk), project_room(world.apollo.pk)
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    with batch() as b:
        for n in range(1, 21):
            assert emit("test_event", {"n": n}, room=mine) is None
            emit("test_event", {"n": n}, room=project)
        emit_many([Event("test_event", {"n": 21}, mine)])  # joins the batch
        with batch() as inner:  # so does a nested batch
            emit("test_event", {"n": 22}, room=mine)
        assert inner is b and b.published == []
    assert len(b.published) == 42
    alice.wait_for("test_event", lambda d: d["n"] == 22)
    alice.wait_for("test_event", lambda d: d["n"] == 20 and d["_meta"]["room"] == project)
    for room, last in ((mine, 22), (project, 20)):
        got = received(alice, room)
        assert [d["n"] for d in got] == list(range(1, last + 1))
        seqs = [d["_meta"]["seq"] for d in got]
        assert seqs == list(range(seqs[0], seqs[0] + last))


def test_a_batch_sent_while_away_is_replayed_after_reconnect(world, connect):
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    emit("test_event", {"n": 0}, room=room)
    alice.wait_for("test_event", lambda d: d["n"] == 0)
    alice.disconnect()
    emit_many([("test_event", {"n": n}, room) for n in range(1, 301)])
    alice.reconnect()
    alice.wait_for("connected", count=2)
    alice.wait_for("test_event", lambda d: d["n"] == 300, timeout=20)
    assert [d["n"] for d in received(alice, room)] == list(range(301))
    assert alice.duplicates == 0 and not alice.resyncs


def test_a_rollback_drops_the_batch_and_a_commit_sends_it_after_commit(world, connect):
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            assert emit_many([("test_event", {"n": n}, room) for n in range(1, 4)]) is None
            with batch():
                emit("test_event", {"n": 4}, room=room)
            raise RuntimeError("rollback")
    with transaction.atomic():
        with batch():
            emit("test_event", {"n": 10}, room=room)
            try:
                with transaction.atomic():  # a savepoint rolled back: only its event is dropped
                    emit("test_event", {"n": 11}, room=room)
                    raise RuntimeError("savepoint")
            except RuntimeError:
                pass
            emit("test_event", {"n": 12}, room=room)
        # before commit nothing of the transaction has gone out (a marker sent now arrives after it)
        emit("test_event", {"n": 99, "source": "drain"}, room=room, on_commit=False)
        alice.wait_for("test_event", lambda d: d["n"] == 99)
        assert received(alice, room) == []
    alice.wait_for("test_event", lambda d: d["n"] == 12)
    drain(alice, room)
    assert [d["n"] for d in received(alice, room)] == [10, 12]


def test_a_bad_event_in_a_burst_sends_nothing(world, connect):
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    with pytest.raises(contract.ContractError):
        emit_many([("test_event", {"n": 1}, room), ("no_such_event", {"n": 2}, room)])
    drain(alice, room)
    assert received(alice, room) == []


def test_an_unreachable_redis_raises_for_the_whole_batch(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    before = metrics.snapshot().get("emit_failures", 0)
    with redis_clients.fresh():  # this process's clients connect to the unreachable one
        with pytest.raises(EmitError, match="could not publish 5 of 5 events \\(0 were published") as caught:
            emit_many([("test_event", {"n": n}, "user:1") for n in range(5)])
        with pytest.raises(EmitError):
            with batch():
                emit("test_event", {"n": 1}, room="user:1")
    assert caught.value.published == [] and caught.value.unsent == 5
    assert metrics.snapshot()["emit_failures"] == before + 6


def test_a_refused_event_says_how_many_were_published():
    ok, broken = "user:9201", "user:9202"
    sync_client().set(eventlog.state_key("/", broken), "not a hash")  # the script fails for this room
    try:
        with pytest.raises(EmitError, match="could not publish 1 of 3 events \\(2 were published") as caught:
            emit_many([("test_event", {"n": 1}, ok), ("test_event", {"n": 2}, broken), ("test_event", {"n": 3}, ok)])
    finally:
        sync_client().delete(eventlog.state_key("/", broken))
    assert [(p.room, p.seq) for p in caught.value.published] == [(ok, 1), (ok, 2)]
    assert caught.value.unsent == 1


def test_a_batch_is_counted(settings):
    settings.REALTIME_EMIT_COUNTERS = True
    before = int(sync_client().hget(EMIT_COUNTS_KEY, "test_event") or 0)
    emit_many([("test_event", {"n": n}, "user:9301") for n in range(25)])
    assert int(sync_client().hget(EMIT_COUNTS_KEY, "test_event")) == before + 25
