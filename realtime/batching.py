"""Work that many connections ask for at about the same time, done for all of them at once.

A `Batcher` runs one batch at a time on the running event loop: a request that arrives while a
batch is under way waits for the next one, which takes every request that arrived meanwhile (up
to `max_batch`). A request alone is run at once (no added latency when the server is quiet); in
a reconnect storm hundreds of handshakes share one database query (realtime.auth) or one Redis
round trip (realtime.eventlog.ensure_many) instead of paying for one each."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`await batcher.submit(item)`: `run(items)` returns one answer per item, in order; an answer
    that is an exception is raised to its requester. If `run` raises, every requester of the batch
    gets that exception."""

    def __init__(self, name: str, run: Callable[[list[T]], Awaitable[list[Any]]], max_batch: int) -> None:
        self.name = name
        self._run_batch = run
        self._max_batch = max_batch
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = weakref.WeakKeyDictionary()

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        queue = self._loops.get(loop)
        if queue is None:
            queue = self._loops[loop] = _LoopQueue()
        future = loop.create_future()
        queue.pending.append((item, future))
        if queue.runner is None:
            queue.runner = loop.create_task(self._drain(queue), name=f"batch {self.name}")
        return await future

    async def _drain(self, queue: _LoopQueue) -> None:
        try:
            while queue.pending:
                batch = queue.pending[: self._max_batch]
                del queue.pending[: self._max_batch]
                try:
                    answers = await self._run_batch([item for item, _ in batch])
                except Exception as exc:
                    log.warning("%s failed for a batch of %d: %s", self.name, len(batch), exc.__class__.__name__)
                    answers = [exc] * len(batch)
                for (_, future), answer in zip(batch, answers, strict=True):
                    if future.done():  # its requester is gone (the connection ended)
                        continue
                    if isinstance(answer, BaseException):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            queue.runner = None


class _LoopQueue:
    __slots__ = ("pending", "runner")

    def __init__(self) -> None:
        self.pending: list[tuple[Any, asyncio.Future]] = []
        self.runner: asyncio.Task | None = None
