"""Positions a client can come back with, and seqs that go backwards.

- A room joined on connect, or subscribed, before it had any event still gets an epoch, given
  in `connected` (`positions`) or in the ack: a client that got nothing in it before going away
  is replayed what was sent meanwhile.
- A reconnect that claims a seq but no epoch can't be checked against the log: resync.
- Redis back with older data (same epoch, seq went backwards): the room's members are told to
  resync, and the room's events keep coming (not dropped as "duplicates")."""

from __future__ import annotations

import pytest

from realtime import eventlog
from realtime.emit import emit, project_room, tenant_room, user_room
from realtime.redis import sync_client

pytestmark = pytest.mark.django_db(transaction=True)


def ns(client, room: str) -> list[int]:
    return [d["n"] for d in client.received("test_event") if d["_meta"]["room"] == room]


def test_rooms_without_events_are_replayed_after_a_reconnect(world, connect):
    alice = connect(world.token(world.alice))
    mine, tenant, project = user_room(world.alice.pk), tenant_room(world.acme.pk), project_room(world.apollo.pk)
    greeting = alice.wait_for("connected")
    assert set(greeting["positions"]) == {mine, tenant}
    assert all(p["seq"] == 0 and p["epoch"] for p in greeting["positions"].values())
    ack = alice.call("subscribe_project", {"project_id": world.apollo.pk})
    assert ack["seq"] == 0 and ack["epoch"]
    assert set(alice.positions["/"]) == {mine, tenant, project}
    alice.disconnect()
    for room in (mine, tenant, project):
        emit("test_event", {"n": 1}, room=room)
        emit("test_event", {"n": 2}, room=room)
    alice.reconnect()
    for room in (mine, tenant, project):
        alice.wait_for("test_event", lambda d, room=room: d["n"] == 2 and d["_meta"]["room"] == room)
        assert ns(alice, room) == [1, 2]
    assert not alice.resyncs


def test_the_first_event_keeps_the_epoch_a_join_created(world, connect):
    alice = connect(world.token(world.alice))
    mine = user_room(world.alice.pk)
    epoch = alice.wait_for("connected")["positions"][mine]["epoch"]
    published = emit("test_event", {"n": 1}, room=mine)
    assert (published.seq, published.epoch) == (1, epoch)
    alice.wait_for("test_event", lambda d: d["n"] == 1)


def test_a_reconnect_with_a_seq_but_no_epoch_must_resync(world, connect):
    alice = connect(world.token(world.alice))
    mine = user_room(world.alice.pk)
    for n in (1, 2, 3):
        emit("test_event", {"n": n}, room=mine)
    alice.wait_for("test_event", lambda d: d["n"] == 3)
    alice.disconnect()
    alice.positions["/"][mine] = {"seq": 1, "epoch": None}
    alice.reconnect()
    assert alice.wait_for("resync_required", lambda d: d["room"] == mine)["reason"] == "epoch_changed"
    alice.wait_for("connected", count=2)
    assert ns(alice, mine) == [1, 2, 3]  # nothing replayed from an unknown log


def rewind(room: str, to_seq: int) -> None:
    """What Redis restarted from an older append-only file or snapshot looks like for a room: the
    same epoch, its state and log as they were after event `to_seq`."""
    redis = sync_client()
    state, log = eventlog.state_key("/", room), eventlog.log_key("/", room)
    kept = redis.xrange(log, min="0-1", max=f"0-{to_seq}")
    pipe = redis.pipeline(transaction=True)
    pipe.delete(log)
    for entry_id, fields in kept:
        pipe.xadd(log, fields, id=entry_id)
    pipe.hset(state, "seq", to_seq)
    pipe.execute()


def test_a_room_whose_seq_went_back_is_resynced_and_keeps_delivering(world, connect):
    alice = connect(world.token(world.alice))
    bob = connect(world.token(world.bob))
    mine = user_room(world.alice.pk)
    tenant = tenant_room(world.acme.pk)
    for n in range(1, 6):
        emit("test_event", {"n": n}, room=mine)
        emit("test_event", {"n": n}, room=tenant)
    alice.wait_for("test_event", lambda d: d["n"] == 5 and d["_meta"]["room"] == mine)
    bob.wait_for("test_event", lambda d: d["n"] == 5 and d["_meta"]["room"] == tenant)
    rewind(mine, 2)
    rewind(tenant, 2)
    for n in (6, 7):
        emit("test_event", {"n": n}, room=mine)
        emit("test_event", {"n": n}, room=tenant)
    for client, room in ((alice, mine), (alice, tenant), (bob, tenant)):
        resync = client.wait_for("resync_required", lambda d, room=room: d["room"] == room)
        assert resync["reason"] == "rolled_back"
        client.wait_for("test_event", lambda d, room=room: d["n"] == 7 and d["_meta"]["room"] == room)
        assert ns(client, room) == [1, 2, 3, 4, 5, 6, 7]
        assert [d["_meta"]["seq"] for d in client.received("test_event") if d["_meta"]["room"] == room][-2:] == [3, 4]
        assert len([r for _, r in client.resyncs if r["room"] == room]) == 1
    # and the client's position follows the room from there
    assert alice.positions["/"][mine]["seq"] == 4


@pytest.mark.parametrize("how", ["unsubscribe_project", "unsubscribe"])
def test_a_room_left_is_not_joined_again_on_reconnect(world, connect, how):
    """The client helper drops a room's position once its unsubscribe is acknowledged, so a
    reconnect does not join the room again (nor replay it); subscribing again tracks it anew."""
    alice = connect(world.token(world.alice))
    project, mine = project_room(world.apollo.pk), user_room(world.alice.pk)
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    emit("test_event", {"n": 1}, room=project)
    alice.wait_for("test_event", lambda d: d["n"] == 1)
    assert project in alice.positions["/"]
    leave = {"project_id": world.apollo.pk} if how == "unsubscribe_project" else {"room": project}
    assert alice.call(how, leave)["ok"] is True
    assert project not in alice.positions["/"]
    alice.disconnect()
    emit("test_event", {"n": 2}, room=project)  # missed while away, in a room she left
    alice.reconnect()
    assert project not in alice.wait_for("connected", count=2)["positions"]
    emit("test_event", {"n": 3}, room=project)
    emit("test_event", {"n": 4}, room=mine)  # sentinel after it, same publisher
    alice.wait_for("test_event", lambda d: d["n"] == 4)
    assert ns(alice, project) == [1]
    assert project not in alice.positions["/"]
    # joined again: followed (and replayed after a reconnect) as before
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    assert project in alice.positions["/"]
    alice.disconnect()
    emit("test_event", {"n": 5}, room=project)
    alice.reconnect()
    alice.wait_for("test_event", lambda d: d["n"] == 5 and d["_meta"]["room"] == project)
    assert ns(alice, project) == [1, 5]
