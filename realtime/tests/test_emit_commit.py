"""Events for committed state go out after commit, never for a rolled-back change."""

from __future__ import annotations

import pytest
from django.db import transaction

from realtime.emit import emit, user_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_waits_for_the_commit(world, connect):
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    with transaction.atomic():
        assert emit("test_event", {"n": 1, "source": "in-transaction"}, room=room) is None
        emit("test_event", {"n": 2, "source": "sentinel"}, room=room, on_commit=False)
        alice.wait_for("test_event", lambda d: d["n"] == 2)
        assert [d for d in alice.received("test_event") if d["n"] == 1] == []
    event = alice.wait_for("test_event", lambda d: d["n"] == 1)
    assert event["_meta"]["seq"] > alice.received("test_event")[0]["_meta"]["seq"]


def test_it_drops_the_event_of_a_rolled_back_transaction(world, connect):
    alice = connect(world.token(world.alice))
    room = user_room(world.alice.pk)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            emit("test_event", {"n": 1, "source": "rolled-back"}, room=room)
            raise RuntimeError("rollback")
    emit("test_event", {"n": 2, "source": "sentinel"}, room=room)
    alice.wait_for("test_event", lambda d: d["n"] == 2)
    assert [d["n"] for d in alice.received("test_event")] == [2]
