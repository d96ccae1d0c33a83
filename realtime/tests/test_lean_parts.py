"""Pure-logic tests of the small parts issue 16 put under every connection: LeanQueue (what
python-engineio's and daphne's per-connection queues are now) and Batcher (JWT checks and room
positions shared by the handshakes that arrive together)."""

from __future__ import annotations

import asyncio

import pytest

from realtime.batching import Batcher
from realtime.compat.idle import LeanQueue


def test_lean_queue_keeps_order_and_allocates_nothing_while_empty():
    async def scenario() -> list:
        queue = LeanQueue()
        assert queue.empty() and queue._items is None
        for item in (1, 2, 3):
            queue.put_nowait(item)
        out = [await queue.get(), queue.get_nowait(), await queue.get()]
        assert queue.empty() and queue._items is None
        with pytest.raises(asyncio.QueueEmpty):
            queue.get_nowait()
        return out

    assert asyncio.run(scenario()) == [1, 2, 3]


def test_a_waiting_getter_is_woken_and_a_cancelled_one_loses_nothing():
    async def scenario() -> tuple:
        queue = LeanQueue()
        cancelled = asyncio.create_task(queue.get())
        waiting = asyncio.create_task(queue.get())
        await asyncio.sleep(0)  # both are waiting now
        cancelled.cancel()
        queue.put_nowait("a")
        got = await asyncio.wait_for(waiting, 1)
        queue.put_nowait("b")
        return got, await asyncio.wait_for(queue.get(), 1), cancelled.cancelled()

    assert asyncio.run(scenario()) == ("a", "b", True)


def test_join_waits_for_task_done():
    async def scenario() -> list[str]:
        queue, seen = LeanQueue(), []
        queue.put_nowait("x")

        async def consumer() -> None:
            seen.append(await queue.get())
            queue.task_done()

        asyncio.create_task(consumer())
        await asyncio.wait_for(queue.join(), 1)
        with pytest.raises(ValueError):
            queue.task_done()
        return seen

    assert asyncio.run(scenario()) == ["x"]


def test_batcher_runs_what_arrives_together_as_one_batch_with_an_answer_each():
    calls: list[list[int]] = []

    async def run(items: list[int]) -> list:
        calls.append(items)
        await asyncio.sleep(0)
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]

    async def scenario() -> list:
        batcher: Batcher[int, int] = Batcher("test", run, max_batch=3)
        return await asyncio.gather(*(batcher.submit(i) for i in (1, 2, -3, 4, 5)), return_exceptions=True)

    answers = asyncio.run(scenario())
    assert answers[:2] == [10, 20] and answers[3:] == [40, 50]
    assert isinstance(answers[2], ValueError)
    assert calls == [[1, 2, -3], [4, 5]]  # all arrived before the first batch ran: batches of 3


def test_a_failed_batch_fails_each_of_its_requests():
    async def run(items: list[int]) -> list:
        raise ConnectionError("down")

    async def scenario() -> list:
        batcher: Batcher[int, int] = Batcher("test", run, max_batch=10)
        return await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)

    assert all(isinstance(a, ConnectionError) for a in asyncio.run(scenario()))
