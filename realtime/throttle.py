"""A throttle that never loses the latest value (seed 003's throttling, done right).

At most one send per `min_interval`; a value submitted inside the interval is kept and sent when
the interval ends (a timer thread), replaced by any newer value meanwhile; `force=True` (terminal
states) sends at once and cancels the pending one. Sends happen under a lock, so they are in order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Throttle:
    def __init__(self, send: Callable[[Any], None], min_interval: float) -> None:
        self._send = send
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._pending: Any = None
        self._has_pending = False
        self._timer: threading.Timer | None = None
        self.sent = 0
        self.coalesced = 0

    def submit(self, value: Any, *, force: bool = False) -> bool:
        """Returns True if the value was sent now, False if it is pending."""
        with self._lock:
            now = time.monotonic()
            if force or now - self._last >= self.min_interval:
                self._cancel_timer()
                if self._has_pending:
                    self.coalesced += 1
                self._has_pending = False
                self._pending = None
                self._emit(value, now)
                return True
            if self._has_pending:
                self.coalesced += 1
            self._pending, self._has_pending = value, True
            if self._timer is None:
                self._timer = threading.Timer(self._last + self.min_interval - now, self._flush_timer)
                self._timer.daemon = True
                self._timer.start()
            return False

    def flush(self) -> None:
        """Send the pending value now, if any (call before a job ends)."""
        with self._lock:
            self._cancel_timer()
            self._send_pending()

    def _flush_timer(self) -> None:
        with self._lock:
            self._timer = None
            self._send_pending()

    def _send_pending(self) -> None:
        if self._has_pending:
            value, self._pending, self._has_pending = self._pending, None, False
            self._emit(value, time.monotonic())

    def _emit(self, value: Any, now: float) -> None:
        self._last = now
        self.sent += 1
        self._send(value)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
