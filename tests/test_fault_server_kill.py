"""kill -9 one of two server processes while numbered events stream to clients on both: the
killed process's clients reconnect through nginx to the survivor, send the last sequence number
they saw per room, and get what they missed replayed. Every client ends with every event exactly
once (after dedupe), in order."""

from __future__ import annotations

import time

import pytest

from realtime.emit import project_room, user_room
from testing.counts import record_counts
from testing.stream import Stream, disconnect_all, numbers, wait_all_received
from testing.waits import counter_delta, server_counters

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_replays_to_the_clients_of_a_killed_server(world, cluster, connect):
    clients = []
    for i in range(6):  # round-robin through nginx: three per process, websocket and long-polling
        user = (world.alice, world.bob)[i % 2]
        transports = ["websocket"] if i < 4 else ["polling"]
        client = connect(world.token(user), url=cluster.url, transports=transports)
        assert client.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
        clients.append((client, user))
    project = project_room(world.apollo.pk)
    watched = [(c, project) for c, _ in clients] + [(c, user_room(u.pk)) for c, u in clients]
    before = server_counters(cluster.redis_url, since=time.time())

    stream = Stream([project, user_room(world.alice.pk), user_room(world.bob.pk)], interval=0.005).start()
    stream.wait_sent(150)
    victim, survivor = cluster.servers
    victim.proc.kill9()
    stream.wait_sent(400)
    last = stream.stop()
    wait_all_received(watched, last, timeout=60)

    expected = list(range(1, last + 1))
    for client, room in watched:
        assert numbers(client, room) == expected, (room, client.disconnects)
    reconnected = sum(1 for c, _ in clients if c.disconnects)
    assert reconnected >= 2, "no client was on the killed process"
    after = server_counters(cluster.redis_url, since=time.time())
    record_counts(
        "kill -9 one of two servers",
        {
            "clients": len(clients),
            "clients_reconnected": reconnected,
            "events_sent": last * 3,
            "events_expected": last * len(watched),
            "events_received": sum(len(numbers(c, r)) for c, r in watched),
            "replayed": counter_delta(before, after, "replayed"),
            "duplicates_dropped_server": counter_delta(before, after, "duplicates_dropped"),
            "duplicates_dropped_client": sum(c.duplicates for c, _ in clients),
            "resyncs": sum(len(c.resyncs) for c, _ in clients),
        },
    )
    assert all(not c.resyncs for c, _ in clients)
    disconnect_all([c for c, _ in clients])
