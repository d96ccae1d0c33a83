"""Two server processes on one Redis, behind nginx: clients on both receive a worker's events,
room joins and leaves on one process are honoured for events published anywhere, and nginx keeps
a long-polling session on the process that holds it."""

from __future__ import annotations

import time

import pytest

from jobs.services import enqueue_tracked
from realtime.emit import project_room, user_room
from testing.processes import PROCESS_INTERVAL
from testing.stream import disconnect_all
from testing.waits import process_snapshots

pytestmark = pytest.mark.django_db(transaction=True)


def connections_per_process(cluster, since: float) -> dict[int, int]:
    """pid -> connections on '/' as each of the cluster's server processes last published them
    (after `since`)."""
    pids = {server.proc.popen.pid for server in cluster.servers}
    snaps = process_snapshots(cluster.redis_url, pids, since, interval=float(PROCESS_INTERVAL))
    return {pid: snap["connections"].get("/", 0) for pid, snap in snaps.items()}


def test_it_delivers_a_workers_events_to_clients_on_both_processes(world, cluster, connect, rq_worker):
    one, two = cluster.servers
    alice = connect(world.token(world.alice), url=one.url)
    bob = connect(world.token(world.bob), url=two.url)
    for client in (alice, bob):
        assert client.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    record = enqueue_tracked(
        "jobs.tasks.demo_job",
        kind="demo",
        kwargs={"steps": 3, "step_seconds": 0.05},
        project=world.apollo,
        user=world.alice,
    )
    for client in (alice, bob):
        done = client.wait_for(
            "agent_status", lambda d: d["job_id"] == str(record.pk) and d["status"] == "success", timeout=30
        )
        assert done["_meta"]["room"] in (project_room(world.apollo.pk), f"job:{record.pk}")
        statuses = [
            d["status"] for d in client.received("agent_status") if d["_meta"]["room"] == project_room(world.apollo.pk)
        ]
        assert statuses == ["queued", "running", "success"]


def test_it_honours_joins_and_leaves_made_on_another_process(world, cluster, connect):
    one, two = cluster.servers
    alice_one = connect(world.token(world.alice), url=one.url)
    alice_two = connect(world.token(world.alice), url=two.url)
    bob_two = connect(world.token(world.bob), url=two.url)
    assert bob_two.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    # an event published by process one (alice's echo) reaches her connection on process two
    assert alice_one.call("echo", {"n": 1})["ok"] is True
    alice_two.wait_for("test_event", lambda d: d["n"] == 1 and d["source"] == "echo")
    # bob leaves the project room on process two; events published elsewhere no longer reach him
    assert bob_two.call("unsubscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    from realtime.emit import emit

    emit("test_event", {"n": 2}, room=project_room(world.apollo.pk))
    emit("test_event", {"n": 3}, room=user_room(world.bob.pk))  # sentinel after it, same publisher
    bob_two.wait_for("test_event", lambda d: d["n"] == 3)
    assert [d["n"] for d in bob_two.received("test_event")] == [3]
    # a disconnect on process two is seen there and nowhere else
    assert sorted(connections_per_process(cluster, time.time()).values()) == [1, 2]
    alice_two.disconnect()
    bob_two.disconnect()
    after = connections_per_process(cluster, time.time())
    assert sorted(after.values()) == [0, 1], after
    assert alice_one.call("echo", {"n": 4})["ok"] is True  # the survivor still works
    alice_one.wait_for("test_event", lambda d: d["n"] == 4)


@pytest.mark.parametrize("transports", [["polling"], ["polling", "websocket"], ["websocket"]])
def test_it_keeps_a_session_on_its_process_through_nginx(world, cluster, connect, transports):
    clients = [connect(world.token(world.alice), url=cluster.url, transports=transports) for _ in range(4)]
    for i, client in enumerate(clients):
        assert client.call("echo", {"n": 100 + i})["ok"] is True
    for client in clients:  # every connection of alice gets every echo: sessions were not lost
        client.wait_for("test_event", lambda d: d["n"] == 103, timeout=10)
        assert sorted(d["n"] for d in client.received("test_event")) == [100, 101, 102, 103]
    served = connections_per_process(cluster, time.time())
    assert sum(served.values()) == 4
    # the handshakes were spread over both processes (round-robin; then sticky by cookie)
    assert min(served.values()) >= 1, served
    # and no session was lost on the way (a poll sent to the other process ends the session: the
    # client would reconnect, and the echoes above could still all arrive)
    assert [c.disconnects for c in clients] == [0] * len(clients)
    assert [c.connect_errors for c in clients] == [[]] * len(clients)
    assert [len(c.received("connected")) for c in clients] == [1] * len(clients)
    disconnect_all(clients)
