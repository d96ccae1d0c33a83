"""This process's realtime.redis clients, made anew when a test points settings.REDIS_URL at
another Redis (an unreachable one, or one of the test's own) and again when it is done."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


def reset() -> None:
    """Forget the clients: the next sync_client() / async_client() connects to settings.REDIS_URL."""
    from realtime import redis as realtime_redis

    realtime_redis._sync = None
    realtime_redis._async.clear()
    realtime_redis._blocking.clear()
    realtime_redis._broadcast.clear()


@contextlib.contextmanager
def fresh() -> Iterator[None]:
    """New clients inside the block (on the Redis the test set), and again after it."""
    reset()
    try:
        yield
    finally:
        reset()
