"""emit() sends the publish script by its SHA (EVALSHA); a Redis whose script cache is empty
(restarted, or SCRIPT FLUSH) still gets every event, in order, from the sync and async paths."""

from __future__ import annotations

import asyncio

import pytest

from realtime import eventlog
from realtime.emit import aemit, emit
from realtime.redis import async_client, sync_client

pytestmark = pytest.mark.django_db(transaction=True)


def _logged(room: str) -> list[int]:
    entries = sync_client().xrange(eventlog.log_key("/", room))
    return [eventlog._seq_of(entry_id) for entry_id, _ in entries]


def test_a_flushed_script_cache_does_not_lose_an_event():
    room = "user:9101"
    first = emit("test_event", {"n": 1}, room=room, on_commit=False)
    sync_client().script_flush()
    assert sync_client().script_exists(eventlog.PUBLISH_SHA) == [False]
    second = emit("test_event", {"n": 2}, room=room, on_commit=False)
    third = emit("test_event", {"n": 3}, room=room, on_commit=False)
    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    assert first.epoch == second.epoch == third.epoch
    assert _logged(room) == [1, 2, 3]
    assert sync_client().script_exists(eventlog.PUBLISH_SHA) == [True]  # loaded again by EVAL


def test_the_async_path_recovers_too():
    room = "user:9102"

    async def run() -> list[int]:
        one = await aemit("test_event", {"n": 1}, room=room)
        await async_client().script_flush()
        two = await aemit("test_event", {"n": 2}, room=room)
        return [one.seq, two.seq]

    assert asyncio.run(run()) == [1, 2]
    assert _logged(room) == [1, 2]


def test_the_sha_is_the_one_redis_computes():
    assert sync_client().script_load(eventlog.PUBLISH_SCRIPT) == eventlog.PUBLISH_SHA
