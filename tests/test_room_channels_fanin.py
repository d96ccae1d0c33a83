"""Per-room channels on two server processes (issue 11): an event reaches only the processes that
have a member of its room; the other process reads nothing of it (its counters say so)."""

from __future__ import annotations

import time

import pytest

from realtime.emit import emit_many, tenant_room, user_room
from testing.processes import PROCESS_INTERVAL
from testing.waits import process_snapshots

pytestmark = pytest.mark.django_db(transaction=True)


def counters_per_process(cluster, since: float) -> dict[int, dict[str, int]]:
    """pid -> counters (and rooms subscribed) of each of the cluster's server processes, as
    published after `since`."""
    pids = {server.proc.popen.pid for server in cluster.servers}
    snaps = process_snapshots(cluster.redis_url, pids, since, interval=float(PROCESS_INTERVAL))
    return {pid: snap["counters"] | {"rooms": snap["rooms_subscribed"]} for pid, snap in snaps.items()}


def test_a_process_without_members_reads_none_of_a_rooms_events(world, cluster, connect):
    one, two = cluster.servers
    alice = connect(world.token(world.alice), url=one.url)
    bob = connect(world.token(world.bob), url=two.url)  # same tenant: tenant room on both
    before = counters_per_process(cluster, time.time())
    mine = user_room(world.alice.pk)
    published = emit_many([("test_event", {"n": n}, mine) for n in range(1, 301)])
    assert {p.receivers for p in published} == {1}  # only the process alice is on was subscribed
    alice.wait_for("test_event", lambda d: d["n"] == 300)
    shared = emit_many([("test_event", {"n": n}, tenant_room(world.acme.pk)) for n in range(1, 11)])
    assert {p.receivers for p in shared} == {2}
    for client in (alice, bob):
        client.wait_for("test_event", lambda d: d["n"] == 10 and d["_meta"]["room"].startswith("tenant:"))
    after = counters_per_process(cluster, time.time())
    received = {
        pid: after[pid].get("events_received", 0) - before[pid].get("events_received", 0)
        for pid in (one.proc.popen.pid, two.proc.popen.pid)
    }
    assert received == {one.proc.popen.pid: 310, two.proc.popen.pid: 10}
    assert [d["n"] for d in bob.received("test_event")] == list(range(1, 11))
    # each process subscribes to its members' rooms: user, tenant (and what else the welcome joins)
    assert after[one.proc.popen.pid]["rooms"] >= 2 and after[two.proc.popen.pid]["rooms"] >= 2


def test_a_fresh_process_welcomes_a_burst_of_connections_to_one_room(world, request):
    """The first connections of a new process arrive while its pub/sub connection is being made:
    their rooms are subscribed once it is up (bench/run.py's 100 clients found it)."""
    from concurrent.futures import ThreadPoolExecutor

    from realtime.client import RealtimeClient
    from realtime.emit import emit
    from testing.processes import start_server

    server = start_server()
    request.addfinalizer(server.proc.stop)
    token = world.token(world.alice)
    clients = [RealtimeClient(server.url, token=token) for _ in range(20)]
    for client in clients:
        request.addfinalizer(client.disconnect)
    with ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda c: c.connect().wait_for("connected", timeout=20), clients))
    emit("test_event", {"n": 1}, room=user_room(world.alice.pk), on_commit=False)
    for client in clients:
        client.wait_for("test_event", lambda d: d["n"] == 1)
