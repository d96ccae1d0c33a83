"""Our Python client (realtime.client) handles what the server sends one event at a time, in the
order it arrived: a burst is neither reordered nor thinned out by its duplicate check."""

from __future__ import annotations

import random
import threading
import time

import pytest

from realtime.emit import Event, emit_many, user_room

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 400


def test_a_burst_is_handled_in_order_with_no_event_taken_for_a_duplicate(world, connect):
    token = world.token(world.alice)
    client = connect(token, namespaces=["/", "/notifications"])
    room = user_room(world.alice.pk)
    # A handler that takes a little while (as an application's does): with a thread per message
    # (python-engineio's threaded client as it comes) the events overtake each other.
    handle = client.sio.handlers["/"]["*"]

    def slow_handle(*args):
        time.sleep(random.uniform(0, 0.002))  # the handler's own work, not a wait for anything
        handle(*args)

    client.sio.handlers["/"]["*"] = slow_handle
    # one round trip: the events reach the client together, in a few socket reads
    emit_many(Event("test_event", {"n": n, "source": "client-order"}, room) for n in range(BURST))
    client.wait_until(lambda: len(client.received("test_event")) == BURST, timeout=20, what="the burst")
    assert [d["n"] for d in client.received("test_event")] == list(range(BURST))
    seqs = [d["_meta"]["seq"] for d in client.received("test_event")]
    assert seqs == sorted(seqs)
    assert client.duplicates == 0


def test_a_handler_may_call_the_server_while_events_keep_coming(world, connect):
    """`on` handlers run on a thread of their own: one that waits for an ack does not hold up
    the handling of the ack (or of the events after it)."""
    token = world.token(world.alice)
    client = connect(token)
    answers: list[dict] = []
    answered = threading.Event()

    def on_first(data):
        if data["n"] == 0:
            answers.append(client.call("subscribe_project", {"project_id": world.apollo.pk}))
            answered.set()

    client.on("test_event", on_first)
    emit_many(Event("test_event", {"n": n, "source": "client-order"}, user_room(world.alice.pk)) for n in range(50))
    assert answered.wait(10), "the handler's call was not answered"
    assert answers[0]["ok"] is True
    client.wait_until(lambda: len(client.received("test_event")) == 50, timeout=10, what="the events after it")
