"""Double submits from clients that send no Idempotency-Key (every seed 000 client).

A keyless request is fingerprinted: (user, endpoint, its validated body in canonical JSON). The
first request with a fingerprint claims it in Redis for `settings.BILLING_DEDUPE_WINDOW_SECONDS`
(0 turns this off) under a fresh idempotency key; an identical request inside the window gets
the same key back. That is all this module decides: the key. Both requests enqueue their job,
and the jobs' own idempotency (billing/bank.py: one movement per key, a rerun answers again with
`replayed: true`) makes the second move nothing. So every request is answered by an event, even
when the first one's job could not be enqueued or failed for good, and no claim ever needs to
be taken back. After the window the same body is a new request (a player may well pay the same
payee the same amount twice in a day).

The claim is `SET NX EX` on the queue's own Redis, so two requests racing in different server
processes still agree on one key."""

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

CLAIM_KEY = "billing:dedupe:{}"


class DedupeUnavailable(RuntimeError):
    """Redis could not be asked whether this request is a duplicate."""


@dataclass(frozen=True)
class Claim:
    client_key: str  # what the job's idempotency key is made from
    duplicate: bool  # an identical request inside the window already has this key
    redis_key: str | None = None


def fingerprint(*, user_id: int, endpoint: str, body: dict[str, Any]) -> str:
    canonical = json.dumps([user_id, endpoint, body], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _connection():
    return django_rq.get_queue(tasks.queue_name()).connection


def claim(*, user_id: int, endpoint: str, body: dict[str, Any]) -> Claim:
    """The idempotency key for a keyless request: a fresh one, or the one an identical request
    claimed within the window (then `duplicate` is true)."""
    window = settings.BILLING_DEDUPE_WINDOW_SECONDS
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
