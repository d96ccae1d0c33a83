"""Replay after a reconnect: a client that was away sends the last sequence number and epoch it
saw per room in its handshake `auth`, and gets what it missed, in order, before live events,
without duplicates or gaps; rooms it had subscribed to are re-authorized and replayed too."""

from __future__ import annotations

import threading

import pytest

from realtime.emit import emit, project_room, user_room

pytestmark = pytest.mark.django_db(transaction=True)


def ns(client, room: str) -> list[int]:
    return [d["n"] for d in client.received("test_event") if d["_meta"]["room"] == room]


def test_it_replays_what_a_client_missed_in_order(world, connect):
    alice = connect(world.token(world.alice))
    project, mine = project_room(world.apollo.pk), user_room(world.alice.pk)
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    for n in range(1, 6):
        emit("test_event", {"n": n}, room=project)
        emit("test_event", {"n": n}, room=mine)
    alice.wait_for("test_event", lambda d: d["n"] == 5 and d["_meta"]["room"] == mine)
    alice.wait_for("test_event", lambda d: d["n"] == 5 and d["_meta"]["room"] == project)
    alice.disconnect()
    for n in range(6, 61):
        emit("test_event", {"n": n}, room=project)
        emit("test_event", {"n": n}, room=mine)
    alice.reconnect()
    alice.wait_for("connected", count=2)
    for room in (project, mine):
        alice.wait_for("test_event", lambda d, room=room: d["n"] == 60 and d["_meta"]["room"] == room)
        assert ns(alice, room) == list(range(1, 61))
    # the replay came before the second `connected`: a client is whole when it is told so
    names = [e for _, e, _ in alice.events]
    second_connected = [i for i, e in enumerate(names) if e == "connected"][1]
    assert names[second_connected - 1] == "test_event"
    assert alice.duplicates == 0 and not alice.resyncs


def test_it_replays_before_live_events_while_events_keep_coming(world, connect):
    """Events published while the reconnect's replay runs are held back and sent after it, once."""
    alice = connect(world.token(world.alice))
    mine = user_room(world.alice.pk)
    emit("test_event", {"n": 1}, room=mine)
    alice.wait_for("test_event", lambda d: d["n"] == 1)
    alice.disconnect()
    for n in range(2, 200):
        emit("test_event", {"n": n}, room=mine)
    stop, sent = threading.Event(), [199]

    def keep_emitting() -> None:
        while not stop.is_set() and sent[0] < 2000:
            sent[0] += 1
            emit("test_event", {"n": sent[0]}, room=mine)

    emitter = threading.Thread(target=keep_emitting, daemon=True)
    emitter.start()
    try:
        alice.reconnect()
        alice.wait_for("connected", count=2)
    finally:
        stop.set()
        emitter.join(10)
    last = sent[0]
    alice.wait_for("test_event", lambda d: d["n"] == last, timeout=20)
    assert ns(alice, mine) == list(range(1, last + 1))
    assert alice.duplicates == 0


def test_it_re_authorizes_the_rooms_a_client_says_it_was_in(world, connect):
    bob = connect(world.token(world.bob))
    project = project_room(world.apollo.pk)
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    emit("test_event", {"n": 1}, room=project)
    bob.wait_for("test_event", lambda d: d["n"] == 1)
    bob.disconnect()
    world.apollo.members.remove(world.bob)  # bob left the project while away
    emit("test_event", {"n": 2}, room=project)
    # he also claims a room he was never allowed in
    bob.positions["/"][project_room(world.borealis.pk)] = {"seq": 0, "epoch": None}
    bob.reconnect()
    errors = [bob.wait_for("error", lambda e: e["event"] == "connect", count=i) for i in (1, 2)]
    assert {e["code"] for e in errors} == {"forbidden"}
    emit("test_event", {"n": 3}, room=project)
    emit("test_event", {"n": 4}, room=user_room(world.bob.pk))
    bob.wait_for("test_event", lambda d: d["n"] == 4)
    assert ns(bob, project) == [1]
