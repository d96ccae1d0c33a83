"""The product on a Redis Cluster (issue 11): realtime data and per-room channels on a private
cluster of three masters with a replica each (SPUBLISH / SSUBSCRIBE), RQ and the Channels layer on
the suite's single Redis. Two server processes, replay, and a master killed mid-stream."""

from __future__ import annotations

import time

import pytest

from realtime.delivery.channels import room_channel
from realtime.emit import EmitError, emit, emit_many, tenant_room, user_room
from testing.stream import numbers

pytestmark = pytest.mark.django_db(transaction=True)


def assert_no_traceback(servers) -> None:
    """A node that died or a slot that moved is logged as a warning, never as a traceback."""
    for server in servers.servers:
        text = server.proc.log_path.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]


def cluster_env(cluster) -> dict[str, str]:
    return {"REALTIME_REDIS_URL": cluster.url, "REALTIME_REDIS_CLUSTER": "1"}


def test_two_servers_on_a_cluster_deliver_each_room_to_its_members_only(world, on_cluster, cluster_factory, connect):
    servers = cluster_factory(2, **cluster_env(on_cluster))
    one, two = servers.servers
    alice = connect(world.token(world.alice), url=one.url)
    bob = connect(world.token(world.bob), url=two.url)
    charlie = connect(world.token(world.charlie), url=two.url)
    rooms = {alice: user_room(world.alice.pk), bob: user_room(world.bob.pk), charlie: user_room(world.charlie.pk)}
    owners = {on_cluster.owner_port(room_channel("/", room)) for room in rooms.values()}
    published = emit_many(
        [("test_event", {"n": n, "source": "stream"}, room) for n in range(1, 101) for room in rooms.values()]
    )
    assert {p.receivers for p in published} == {1}  # SPUBLISH reaches the one process with the member
    shared = emit("test_event", {"n": 1000, "source": "stream"}, room=tenant_room(world.acme.pk), on_commit=False)
    assert shared.receivers == 2
    for client, room in rooms.items():
        client.wait_for("test_event", lambda d, room=room: d["n"] == 100 and d["_meta"]["room"] == room)
        assert numbers(client, room) == list(range(1, 101))
        assert client.duplicates == 0 and not client.resyncs
    for client in (alice, bob):
        client.wait_for("test_event", lambda d: d["n"] == 1000)
    assert len(owners) >= 1  # (the rooms' slots: printed on failure)


def test_replay_on_a_cluster(world, on_cluster, cluster_factory, connect):
    servers = cluster_factory(2, **cluster_env(on_cluster))
    alice = connect(world.token(world.alice), url=servers.servers[0].url)
    mine = user_room(world.alice.pk)
    emit_many([("test_event", {"n": n, "source": "stream"}, mine) for n in range(1, 11)])
    alice.wait_for("test_event", lambda d: d["n"] == 10)
    alice.disconnect()
    emit_many([("test_event", {"n": n, "source": "stream"}, mine) for n in range(11, 61)])
    alice.url = servers.servers[1].url  # comes back on the other process
    alice.reconnect()
    alice.wait_for("connected", count=2)
    alice.wait_for("test_event", lambda d: d["n"] == 60)
    assert numbers(alice, mine) == list(range(1, 61))
    assert alice.duplicates == 0 and not alice.resyncs


def test_a_master_killed_mid_stream_loses_no_event_silently(world, on_cluster, cluster_factory, connect):
    """kill -9 the master that owns alice's room; its replica takes over. Every client ends with
    every event in order, or a resync_required where the log was lost: never a silent gap."""
    servers = cluster_factory(2, **cluster_env(on_cluster))
    alice = connect(world.token(world.alice), url=servers.servers[0].url)
    charlie = connect(world.token(world.charlie), url=servers.servers[1].url)
    mine, theirs = user_room(world.alice.pk), user_room(world.charlie.pk)
    victim = on_cluster.owner_port(room_channel("/", mine))
    sent = {mine: 0, theirs: 0}
    killed, last_error = False, None
    deadline = time.monotonic() + 60
    while min(sent.values()) < 400 and time.monotonic() < deadline:
        if sent[mine] == 150 and not killed:
            on_cluster.node(victim).stop(sig=9)
            killed = True
        for room in (mine, theirs):
            if sent[room] == 400:
                continue
            try:
                emit("test_event", {"n": sent[room] + 1, "source": "stream"}, room=room, on_commit=False)
                sent[room] += 1
            except EmitError as exc:
                last_error = exc
                time.sleep(0.05)  # the room's master is down until its replica takes over: a job's retry pace
    assert min(sent.values()) == 400, f"the replica did not take over within 60 s: {sent} {last_error}"
    for client, room in ((alice, mine), (charlie, theirs)):
        client.wait_for("test_event", lambda d, room=room: d["n"] == 400 and d["_meta"]["room"] == room, timeout=60)
        got = numbers(client, room)
        if client.resyncs:  # what the log lost is announced; after it, the events run on in order
            assert got == sorted(got) and len(set(got)) == len(got)
        else:
            assert got == list(range(1, 401))
        assert client.duplicates == 0
    assert_no_traceback(servers)


def test_a_room_whose_slot_moves_keeps_delivering(world, on_cluster, cluster_factory, connect):
    """The room's slot moves to another master while alice is in it (CLUSTER SETSLOT, as
    `redis-cli --cluster reshard` does): the old master unsubscribes the server (SUNSUBSCRIBE),
    which subscribes on the new owner and catches the room up."""
    from redis.crc import key_slot

    servers = cluster_factory(1, **cluster_env(on_cluster))
    alice = connect(world.token(world.alice), url=servers.servers[0].url)
    mine = user_room(world.alice.pk)
    emit_many([("test_event", {"n": n, "source": "stream"}, mine) for n in range(1, 51)])
    alice.wait_for("test_event", lambda d: d["n"] == 50)
    slot = key_slot(room_channel("/", mine).encode())
    owner = on_cluster.slot_owner_port(slot)
    target = next(p for p in on_cluster.master_ports() if p != owner)
    on_cluster.move_slot(slot, target)
    assert on_cluster.slot_owner_port(slot) == target
    for n in range(51, 101):
        emit("test_event", {"n": n, "source": "stream"}, room=mine, on_commit=False)
    alice.wait_for("test_event", lambda d: d["n"] == 100, timeout=30)
    assert numbers(alice, mine) == list(range(1, 101))
    assert alice.duplicates == 0 and not alice.resyncs
    assert_no_traceback(servers)
