"""The per-room event log: sequence numbers, epochs, publish-and-log in one atomic step, replay.

One Lua script does, atomically on the Redis server:
  1. take the room's epoch (created when the room's state is new: after a Redis restart that lost
     data, or after the state expired) and the next sequence number,
  2. splice `_meta: {room, seq, epoch}` into the already-encoded payload,
  3. append the message to the room's bounded stream (entry id `0-<seq>`),
  4. PUBLISH it on the room's own pub/sub channel (SPUBLISH on a Redis Cluster; see
     realtime.delivery.channels), in the JSON format python-socketio's Redis manager reads.
So an event is never published without being logged, never logged without a sequence number,
and subscribers see events of a room in sequence order (Redis runs scripts one at a time).

Keys use a hash tag `{ns|room}` so both keys and the channel of a room live in one Redis Cluster
slot.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import NoScriptError

from realtime.batching import Batcher
from realtime.delivery.channels import hash_tag, room_channel

EMITTER_HOST_ID = "realtime-emitter"
STATE_TTL_SECONDS = 30 * 24 * 3600

# A room's state is created (a new epoch, seq 0) by its first event or by the first join of a
# connection that has no position in it (ENSURE_SCRIPT). Either way a new epoch deletes the room's
# log: a log left over from a lost state (evicted, expired) holds another epoch's entries, and its
# entry ids would be above the new epoch's first sequence numbers.
PUBLISH_SCRIPT = """
local state, log = KEYS[1], KEYS[2]
local epoch = redis.call('HGET', state, 'epoch')
if not epoch then
  epoch = ARGV[5]
  redis.call('DEL', log)
  redis.call('HSET', state, 'epoch', epoch, 'seq', 0)
end
local seq = redis.call('HINCRBY', state, 'seq', 1)
local msg = ARGV[2] .. seq .. ARGV[3] .. epoch .. ARGV[4]
redis.call('XADD', log, 'MAXLEN', '~', ARGV[6], '0-' .. seq, 'm', msg, 't', ARGV[9])
redis.call('EXPIRE', log, ARGV[7])
redis.call('EXPIRE', state, ARGV[8])
local receivers = redis.call(ARGV[10], ARGV[1], msg)
return {seq, epoch, receivers}
"""
# emit() sends EVALSHA (the script's body is not sent and parsed per event) and falls back to
# EVAL when Redis answers NOSCRIPT (a restarted Redis has an empty script cache).
PUBLISH_SHA = hashlib.sha1(PUBLISH_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis's script id, not security)


ENSURE_SCRIPT = """
local state, log = KEYS[1], KEYS[2]
local epoch = redis.call('HGET', state, 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', log)
  redis.call('HSET', state, 'epoch', epoch, 'seq', 0)
  redis.call('EXPIRE', state, ARGV[2])
end
return {redis.call('HGET', state, 'seq') or '0', epoch}
"""


def state_key(namespace: str, room: str) -> str:
    return f"rt:state:{hash_tag(namespace, room)}"


def log_key(namespace: str, room: str) -> str:
    return f"rt:log:{hash_tag(namespace, room)}"


@dataclass(frozen=True)
class Published:
    room: str
    seq: int
    epoch: str
    # Server processes subscribed when it was published (PUBLISH's answer); None when not known.
    receivers: int | None = None


# Encodes payloads as build_message's json.dumps(..., separators, ensure_ascii, allow_nan) would,
# without building a new encoder per event (json.dumps does when given options).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@functools.lru_cache(maxsize=4096)
def _framing(event: str, namespace: str, room: str) -> tuple[str, str, tuple[str, str]]:
    """What build_message and script_args put around every payload of (event, namespace, room):
    the envelope, the start of `_meta`, and the room's two keys (the same for every event)."""
    meta = '"_meta":{"room":' + json.dumps(room, ensure_ascii=False) + ',"seq":'
    envelope = (
        '{"method":"emit","event":'
        + json.dumps(event, ensure_ascii=False)
        + ',"namespace":'
        + json.dumps(namespace)
        + ',"room":'
        + json.dumps(room, ensure_ascii=False)
        + ',"host_id":"'
        + EMITTER_HOST_ID
        + '","data":['
    )
    return envelope, meta, (state_key(namespace, room), log_key(namespace, room))


def build_message(*, event: str, payload: dict[str, Any], namespace: str, room: str) -> tuple[str, str, str]:
    """The pub/sub message as (prefix, middle, suffix): prefix + seq + middle + epoch + suffix.

    The payload is encoded once here (the encoder fails on anything not JSON, so a bad payload
    fails where it is emitted, not in a client)."""
    envelope, meta, _ = _framing(event, namespace, room)
    body = _ENCODER.encode(payload)
    head = body[:-1] + ("," if len(body) > 2 else "")
    return envelope + head + meta, ',"epoch":"', '"}}]}'


def script_args(*, event: str, payload: dict[str, Any], namespace: str, room: str) -> tuple[list[str], list[Any]]:
    prefix, middle, suffix = build_message(event=event, payload=payload, namespace=namespace, room=room)
    keys = list(_framing(event, namespace, room)[2])
    args = [
        room_channel(namespace, room),
        prefix,
        middle,
        suffix,
        secrets.token_hex(6),
        settings.REPLAY_LOG_MAXLEN,
        settings.REPLAY_LOG_MAX_AGE_SECONDS,
        STATE_TTL_SECONDS,
        int(time.time() * 1000),
        publish_command(),
    ]
    return keys, args


def publish_command() -> str:
    """PUBLISH on a single Redis; SPUBLISH (Redis 7 sharded pub/sub) on a Redis Cluster."""
    return "SPUBLISH" if settings.REALTIME_REDIS_CLUSTER else "PUBLISH"


def parse_result(room: str, result: list) -> Published:
    seq, epoch = result[0], result[1]
    receivers = int(result[2]) if len(result) > 2 else None
    return Published(
        room=room, seq=int(seq), epoch=epoch.decode() if isinstance(epoch, bytes) else epoch, receivers=receivers
    )


# --- reading the log (server side, redis.asyncio) ----------------------------------------------------


@dataclass(frozen=True)
class Position:
    seq: int
    epoch: str | None


@dataclass(frozen=True)
class Missed:
    """What a client that saw up to `since` must get: `messages` in order, or `resync` with a reason."""

    messages: list[dict[str, Any]]
    resync: str | None
    head: Position


async def read_position(redis, namespace: str, room: str) -> Position:
    seq, epoch = await redis.hmget(state_key(namespace, room), "seq", "epoch")
    return Position(int(seq or 0), epoch.decode() if epoch else None)


async def read_missed(redis, namespace: str, room: str, *, since: int, epoch: str | None) -> Missed:
    """Events of the room after `since`. The log must reach back to since+1, in the same epoch,
    and not be older than the configured age; otherwise the client must resync."""
    head = await read_position(redis, namespace, room)
    missed = _missed_before_reading(head, since, epoch)
    if missed is not None:
        return missed
    entries = await redis.xrange(log_key(namespace, room), min=f"0-{since + 1}", max="+")
    return _missed_from(head, since, entries)


def _missed_before_reading(head: Position, since: int, epoch: str | None) -> Missed | None:
    """What a client at (since, epoch) misses, when the room's head alone says it; else None."""
    if head.epoch is None:
        # Nothing was ever sent to this room (or its state is gone): a client that saw
        # something must reload; one that saw nothing has nothing to miss.
        return Missed([], "epoch_changed" if since > 0 else None, head)
    if since > 0 and epoch is None:
        # A client that saw events but cannot say from which log: its seq means nothing here.
        return Missed([], "epoch_changed", head)
    if epoch is not None and epoch != head.epoch:
        return Missed([], "epoch_changed", head)
    if since > head.seq:
        return Missed([], "ahead_of_server", head)
    if since == head.seq:
        return Missed([], None, head)
    return None


def _missed_from(head: Position, since: int, entries: list) -> Missed:
    """The log's entries after `since` (XRANGE's answer), checked to reach back to since+1."""
    if not entries or _seq_of(entries[0][0]) != since + 1:
        return Missed([], "log_truncated", head)
    oldest_allowed_ms = (time.time() - settings.REPLAY_LOG_MAX_AGE_SECONDS) * 1000
    if int(entries[0][1][b"t"]) < oldest_allowed_ms:
        return Missed([], "log_expired", head)
    return Missed([json.loads(fields[b"m"]) for _, fields in entries], None, head)


async def ensure_many(
    redis, namespace: str, rooms: list[tuple[str, int | None, str | None]]
) -> list[tuple[Position, Missed | None]]:
    """For each (room, since, epoch): the room's position, creating its state (a new epoch, seq 0)
    if it has none, so that a client joining a room that never had an event still gets an epoch to
    come back with; and, when `since` is given, what the client missed (as `read_missed`).

    One Redis round trip for all the rooms, shared with the other connections joining at the same
    time (realtime.batching: one pipeline per batch). Per room the position is read first, then
    the log: an event published in between is in the log but past the position, and the join's
    hold-back drops it as a duplicate of the live event (realtime.delivery.joins)."""
    return await _ensure_batches.submit((redis, namespace, rooms))


async def _ensure_batch(requests: list[tuple[Any, str, list[tuple[str, int | None, str | None]]]]) -> list[Any]:
    redis = requests[0][0]
    async with redis.pipeline(transaction=False) as pipe:
        for _, namespace, rooms in requests:
            for room, since, _ in rooms:
                keys = (state_key(namespace, room), log_key(namespace, room))
                # as a plain command: redis-py's cluster pipeline refuses its evalsha() method
                pipe.execute_command("EVALSHA", ENSURE_SHA, 2, *keys, secrets.token_hex(6), STATE_TTL_SECONDS)
                if since is not None:
                    pipe.xrange(keys[1], min=f"0-{since + 1}", max="+")
        raw = await pipe.execute(raise_on_error=False)
    if any(isinstance(a, NoScriptError) for a in raw):  # a restarted Redis: load it, then once more
        await redis.script_load(ENSURE_SCRIPT)
        return await _ensure_batch(requests)
    answers = iter(raw)
    out: list[Any] = []
    for _, _, rooms in requests:
        joined: list[tuple[Position, Missed | None]] = []
        failed: BaseException | None = None
        for _, since, epoch in rooms:
            position = next(answers)
            entries = next(answers) if since is not None else None
            if isinstance(position, BaseException) or isinstance(entries, BaseException):
                failed = failed or (position if isinstance(position, BaseException) else entries)
                continue
            seq, head_epoch = position
            head = Position(int(seq), head_epoch.decode() if isinstance(head_epoch, bytes) else head_epoch)
            if since is None:
                joined.append((head, None))
                continue
            missed = _missed_before_reading(head, since, epoch)
            joined.append((head, missed if missed is not None else _missed_from(head, since, entries)))
        out.append(failed if failed is not None else joined)
    return out


ENSURE_SHA = hashlib.sha1(ENSURE_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis's script id)
_ensure_batches: Batcher = Batcher("room positions", _ensure_batch, max_batch=500)


def read_recent(redis, namespace: str, room: str, *, limit: int) -> tuple[list[dict[str, Any]], Position]:
    """The room's last `limit` logged events, oldest first, and its position as of that read
    (sync client, one MULTI): a page renders them as history, then follows the room from that
    position (subscribe with `last_seq`/`epoch`), so nothing is shown twice or skipped."""
    with redis.pipeline(transaction=True) as pipe:
        pipe.hmget(state_key(namespace, room), "seq", "epoch")
        pipe.xrevrange(log_key(namespace, room), count=limit)
        (seq, epoch), entries = pipe.execute()
    position = Position(int(seq or 0), epoch.decode() if epoch else None)
    if position.epoch is None:
        return [], position
    oldest_allowed_ms = (time.time() - settings.REPLAY_LOG_MAX_AGE_SECONDS) * 1000
    messages = [json.loads(fields[b"m"]) for _, fields in reversed(entries) if int(fields[b"t"]) >= oldest_allowed_ms]
    return messages, position


def _seq_of(entry_id: bytes | str) -> int:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.split("-", 1)[1])
