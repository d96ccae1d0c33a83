"""Recent errors for the ops page: a logging handler that keeps the last ERROR records of every
process (servers, workers, cron) in a short Redis list. Only the formatted message, its logger,
level, time and process go in (truncated; log lines never carry secrets or whole payloads)."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from datetime import UTC, datetime

import redis
from django.conf import settings

from ops import keys

MAX_MESSAGE = 300
_guard = threading.local()


class RecentErrorsHandler(logging.Handler):
    def __init__(self, level: int = logging.ERROR) -> None:
        super().__init__(level)
        self._client: redis.Redis | None = None

    def _redis(self) -> redis.Redis:
        if self._client is None:
            # Short timeouts: logging must not stall a process whose Redis is away.
            self._client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.3, socket_timeout=0.5)
        return self._client

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_guard, "active", False):
            return  # an error raised while recording an error
        _guard.active = True
        try:
            entry = {
                "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
                "source": f"{record.name} ({socket.gethostname()}:{os.getpid()})",
                "level": record.levelname,
                "message": (record.getMessage().strip().splitlines() or [""])[0][:MAX_MESSAGE],
            }
            pipe = self._redis().pipeline(transaction=False)
            pipe.lpush(keys.RECENT_ERRORS, json.dumps(entry))
            pipe.ltrim(keys.RECENT_ERRORS, 0, keys.RECENT_ERRORS_MAX - 1)
            pipe.execute()
        except Exception:  # noqa: S110 (Redis away: the console handler still has the line)
            pass
        finally:
            _guard.active = False


def install() -> None:
    """Attach the handler to the root logger once (LOGGING may configure it instead)."""
    root = logging.getLogger()
    if not any(isinstance(h, RecentErrorsHandler) for h in root.handlers):
        root.addHandler(RecentErrorsHandler())
