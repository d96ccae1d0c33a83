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

from django.conf import settings

from realtime import metrics

REFUSED_CODE = "server_busy"
WEBSOCKET_SHED_CODE = 4013  # "shed", to realtime.compat.daphne_protocol (a close before accept)

_pending = 0


def pending() -> int:
    return _pending


def full() -> bool:
    """No room for another handshake now (counted as shed: the caller refuses it)."""
    limit = settings.SOCKETIO_MAX_PENDING_HANDSHAKES
    if limit and _pending >= limit:
        metrics.incr("connections_shed")
        return True
    return False


def begin() -> None:
    global _pending
    _pending += 1


def end() -> None:
    global _pending
    _pending = max(0, _pending - 1)
