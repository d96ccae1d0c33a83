"""Double submits from clients that send no Idempotency-Key (every seed 000 client).

A keyless request is fingerprinted: (user, endpoint, its validated body in canonical JSON). The
first request with a fingerprint claims it in Redis for `settings.BILLING_DEDUPE_WINDOW_SECONDS`
(default 30; 0 turns this off) under a fresh idempotency key, and enqueues its job. An identical
request inside the window finds the claim, gets the same key back and enqueues nothing: the first
request's job does the work and sends the one completion event. After the window the same body is
a new request (a player may well pay the same payee the same amount twice in a day).

The claim is `SET NX EX` on the queue's own Redis, so two requests racing in different server
processes still get one winner. A request whose job could not be enqueued releases its claim,
so the client's retry is not mistaken for a duplicate of a request that did nothing."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import django_rq
from django.conf import settings
from redis.exceptions import RedisError

from billing import tasks

DEFAULT_WINDOW_SECONDS = 30
CLAIM_KEY = "billing:dedupe:{}"
# Deletes the claim only if it still holds this request's key (it may have expired and been
# claimed afresh by a later request since).
RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class DedupeUnavailable(RuntimeError):
    """Redis could not be asked whether this request is a duplicate."""


@dataclass(frozen=True)
class Claim:
    client_key: str  # what the job's idempotency key is made from
    duplicate: bool  # an identical request inside the window already has this key and its job
    redis_key: str | None = None


def window_seconds() -> int:
    return int(getattr(settings, "BILLING_DEDUPE_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS))


def fingerprint(*, user_id: int, endpoint: str, body: dict[str, Any]) -> str:
    canonical = json.dumps([user_id, endpoint, body], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _connection():
    return django_rq.get_queue(tasks.queue_name()).connection


def claim(*, user_id: int, endpoint: str, body: dict[str, Any]) -> Claim:
    """The idempotency key for a keyless request: a fresh one, or the one an identical request
    claimed within the window (then `duplicate` is true and nothing must be enqueued)."""
    window = window_seconds()
    if window <= 0:
        return Claim(client_key=f"auto-{uuid.uuid4().hex}", duplicate=False)
    redis_key = CLAIM_KEY.format(fingerprint(user_id=user_id, endpoint=endpoint, body=body))
    try:
        connection = _connection()
        for _ in range(3):  # the claim can expire between SET NX and GET; then claim it again
            fresh = f"auto-{uuid.uuid4().hex}"
            if connection.set(redis_key, fresh, nx=True, ex=window):
                return Claim(client_key=fresh, duplicate=False, redis_key=redis_key)
            held = connection.get(redis_key)
            if held is not None:
                return Claim(client_key=held.decode(), duplicate=True, redis_key=redis_key)
    except RedisError as exc:
        raise DedupeUnavailable(str(exc)) from exc
    raise DedupeUnavailable("the dedupe claim kept expiring")


def release(found: Claim) -> None:
    """Forget a first request's claim (its job was never enqueued)."""
    if found.duplicate or found.redis_key is None:
        return
    try:
        _connection().eval(RELEASE_SCRIPT, 1, found.redis_key, found.client_key)
    except RedisError:
        pass  # the claim expires by itself within the window
