"""Admission: a server process works on at most SOCKETIO_MAX_PENDING_HANDSHAKES handshakes at once.

A handshake counts from the Socket.IO connect (authentication) until its welcome is done (rooms
joined, replay sent, `connected` sent) or the connection ends. When a reconnect storm brings more
than that, a new Engine.IO connection is refused at once, before any work is done for it, with a
retryable refusal (realtime.compat.engine):

* long-polling open (`GET /socket.io/?EIO=4&transport=polling`, no `sid`): HTTP 503, a
  `Retry-After: 1` header and the JSON body `{"code": "server_busy", "message": ...}`;
* WebSocket open (no `sid`): the upgrade is refused with HTTP 503 (the ASGI app closes the
  WebSocket before accepting it, with WEBSOCKET_SHED_CODE, which realtime.compat.daphne_protocol
  turns into a 503; under another ASGI server it is that server's refusal, e.g. 403).

Both are failed connection attempts to socket.io-client and to python-socketio's client, which retry on
their reconnection backoff (with jitter); nothing is refused once a session exists (an upgrade,
a poll), so connections already served keep being served. Counted as `connections_shed`."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from realtime import metrics

log = logging.getLogger(__name__)

REFUSED_CODE = "server_busy"
WEBSOCKET_SHED_CODE = 4013  # "shed", to realtime.compat.daphne_protocol (a close before accept)

_pending = 0
_shed_total = 0
_shed_logged_at = 0.0


def pending() -> int:
    return _pending


def full() -> bool:
    """No room for another handshake now (counted as shed: the caller refuses it)."""
    global _shed_total, _shed_logged_at
    limit = settings.SOCKETIO_MAX_PENDING_HANDSHAKES
    if not limit or _pending < limit:
        return False
    metrics.incr("connections_shed")
    _shed_total += 1
    now = time.monotonic()
    if now - _shed_logged_at >= 1.0:  # a storm sheds thousands a second: one line a second
        log.warning("shedding new connections: %d so far (handshakes pending: %d)", _shed_total, _pending)
        _shed_logged_at = now
    return True


def sheds(path: str, has_sid: bool) -> bool:
    """Is this request an Engine.IO open (no `sid`) on a Socket.IO path, to be refused now?"""
    from realtime.server import match

    return not has_sid and match(path) is not None and full()


def begin() -> None:
    global _pending
    _pending += 1


def end() -> None:
    global _pending
    _pending = max(0, _pending - 1)
