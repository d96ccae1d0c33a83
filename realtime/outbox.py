"""The event outbox: an event emitted inside a transaction is committed with the change it
announces, then published; what Redis did not take is published later, in order, by the relay.

- `store()` (emit, inside the caller's transaction): one row per event (`OutboxEvent`). A row is
  written `deferred` when its room already has a deferred row: a room's events go out in id order.
- `publish()` (after the commit): the events go out at once, through emit's publish path (the
  atomic publish script, wrapped by OUTBOX_SCRIPT below), on a client that waits for Redis at most
  REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS; the rows Redis confirmed are deleted, the others marked
  deferred. Nothing is raised: the change is committed, its announcement is only late. This
  process logs once per outage that it defers events, and how many when Redis answers again.
- `relay_once()`: the deferred rows (and rows nobody published within REALTIME_OUTBOX_GRACE_SECONDS:
  their process died after the commit) in id order, one relay at a time (a PostgreSQL advisory
  lock; SQLite's write lock serialises it there). `run()` is a REALTIME_SERVER_TASKS entry: every
  server process runs the relay every REALTIME_OUTBOX_RELAY_INTERVAL_SECONDS, in a thread of its
  own; `manage.py outbox_relay` runs it anywhere else.

Never two sequence numbers for one event: a retry whose first attempt ran (Redis took the script
but the reply was lost: a hung Redis, a timeout) must not be published again. OUTBOX_SCRIPT runs
the publish script only if the room's dedupe set has no entry for the row (`dedupe_token`: its id
and creation time) in the room's current epoch, and records it there (score: its seq) in the same atomic step; a repeat answers the
first attempt's position. The set keeps the last REALTIME_OUTBOX_DEDUPE_WINDOW ids per room and
expires with the room's log. See docs/replay.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from realtime import emit as _emit
from realtime import eventlog, metrics
from realtime.models import OutboxEvent
from realtime.redis import is_cluster, realtime_url

log = logging.getLogger(__name__)

# The publish script, run only once per outbox id and epoch (see the module's docstring). Its own
# arguments come last (KEYS: the dedupe set; ARGV: id, window, ttl), after the publish script's.
OUTBOX_SCRIPT = (
    """
local sent = KEYS[#KEYS]
local window, ttl = tonumber(ARGV[#ARGV - 1]), ARGV[#ARGV]
local id = ARGV[#ARGV - 2]
local current = redis.call('HGET', KEYS[1], 'epoch')
if current then
  local seen = redis.call('ZSCORE', sent, id .. ':' .. current)
  if seen then
    return {tonumber(seen), current, 0, 1}
  end
end
local function publish()
"""
    + eventlog.PUBLISH_SCRIPT
    + """
end
local result = publish()
redis.call('ZADD', sent, result[1], id .. ':' .. result[2])
redis.call('ZREMRANGEBYRANK', sent, 0, -(window + 1))
redis.call('EXPIRE', sent, ttl)
return result
"""
)
OUTBOX_SHA = hashlib.sha1(OUTBOX_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis's script id)
_emit.SCRIPTS[OUTBOX_SHA] = OUTBOX_SCRIPT

RELAY_BATCH = 500
RELAY_LOCK_ID = 0x6F7574626F78  # "outbox": pg_try_advisory_xact_lock's key
VACUUM_LOCK_ID = RELAY_LOCK_ID + 1
ERROR_MAX = 200


def target() -> str:
    """This process's Redis, as stored with its outbox rows (a hash: the URL may hold a password)."""
    return hashlib.sha256(realtime_url().encode()).hexdigest()[:16]


def dedupe_key(state_key: str) -> str:
    """The room's dedupe set: the state key's hash tag, so it is in the room's cluster slot."""
    return f"{state_key}:outbox"


def dedupe_token(outbox_id: int, created_at: datetime) -> str:
    """What the dedupe set records for a row: its id with its creation time. The id alone is not
    unique over time: a database recreated or restored under the same Redis (a fresh `make run`
    database on its kept private Redis) starts its ids over, and the script took each new event
    for one already published and dropped it."""
    return f"{outbox_id}@{created_at.timestamp():.6f}"


def _command(item: _emit._Prepared, token: str) -> tuple:
    _, _, numkeys, *rest = item.command
    keys, args = rest[:numkeys], rest[numkeys:]
    window, ttl = settings.REALTIME_OUTBOX_DEDUPE_WINDOW, settings.REPLAY_LOG_MAX_AGE_SECONDS
    return ("EVALSHA", OUTBOX_SHA, numkeys + 1, *keys, dedupe_key(keys[0]), *args, token, window, ttl)


def _stored(item: _emit._Prepared, outbox_id: int, created_at: datetime, deferred: bool) -> _emit._Prepared:
    command = _command(item, dedupe_token(outbox_id, created_at))
    return item._replace(command=command, outbox_id=outbox_id, deferred=deferred)


# --- writing (inside the emitting transaction) -----------------------------------------------------


def store(items: list[_emit._Prepared]) -> list[_emit._Prepared]:
    """Write `items` to the outbox (in the current transaction, or committed at once outside one)
    and return them tied to their rows, each `deferred` if its room has a deferred row already."""
    now = timezone.now()
    rows = _insert_postgres(items, now) if connection.vendor == "postgresql" else _insert(items, now)
    deferred = sum(d for _, d in rows)
    if deferred:
        _outage.note_deferred(deferred, None)
    return [_stored(item, pk, now, d) for item, (pk, d) in zip(items, rows, strict=True)]


def _insert(items: list[_emit._Prepared], now: datetime) -> list[tuple[int, bool]]:
    mine = target()
    rooms = {item.room for item in items}
    backlog = set(OutboxEvent.objects.filter(deferred=True, room__in=rooms, target=mine).values_list("room", flat=True))
    rows = OutboxEvent.objects.bulk_create(
        OutboxEvent(
            created_at=now,
            target=mine,
            event=item.event,
            room=item.room,
            namespace=item.namespace,
            payload=item.data,
            deferred=item.room in backlog,
        )
        for item in items
    )
    return [(row.pk, row.deferred) for row in rows]


def _insert_postgres(items: list[_emit._Prepared], now: datetime) -> list[tuple[int, bool]]:
    """_insert() in one round trip: the rooms' backlog is looked up by the INSERT itself (the
    partial index of deferred rows). Rows are inserted in order (ORDER BY the position), so their
    ids follow it."""
    table = OutboxEvent._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s::jsonb)"] * len(items))
    sql = (
        f"INSERT INTO {table} (created_at, target, event, room, namespace, payload, deferred, attempts, last_error) "  # noqa: S608 (our table)
        f"SELECT %s, %s, v.event, v.room, v.namespace, v.payload, EXISTS (SELECT 1 FROM {table} o "
        f"WHERE o.deferred AND o.target = %s AND o.room = v.room), 0, '' "
        f"FROM (VALUES {values}) AS v(n, event, room, namespace, payload) ORDER BY v.n RETURNING id, deferred"
    )
    mine = target()
    params: list[Any] = [now, mine, mine]
    for n, item in enumerate(items):
        params += [n, item.event, item.room, item.namespace, json.dumps(item.data)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(cursor.fetchall())


# --- publishing ------------------------------------------------------------------------------------

_clients: dict[tuple[str, float], redis.Redis] = {}
_clients_lock = threading.Lock()


def client(url: str | None = None) -> redis.Redis:
    """A client (of REDIS_URL, or `url`) that waits for Redis at most
    REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS and does not retry (the relay does): a hung Redis delays
    a request by that much, not by seconds. Also for other work after a commit that has a
    durable record to recover from (a tracked job's enqueue)."""
    key = (url or settings.REDIS_URL, settings.REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS)
    found = _clients.get(key)
    if found is None:
        with _clients_lock:
            found = _clients.get(key)
            if found is None:
                timeout = key[1]
                found = redis.Redis.from_url(
                    key[0], socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
                )
                _clients[key] = found
    return found


def _publish_now(items: list[_emit._Prepared]) -> tuple[list[tuple[_emit._Prepared, Any]], Exception | None]:
    """Each item with its Published or its failure (an exception, or None: no reply), in order,
    through emit's publish path (one round trip per BATCH_MAX, the counters riding along)."""
    outcomes: list[tuple[_emit._Prepared, Any]] = []
    failure: Exception | None = None
    for start in range(0, len(items), _emit.BATCH_MAX):
        chunk = items[start : start + _emit.BATCH_MAX]
        counts: dict[str, int] = {}
        for item in chunk:
            counts[item.event] = counts.get(item.event, 0) + 1
        # the realtime Redis (REALTIME_REDIS_URL); on a cluster, emit's cluster client and pipeline
        publisher = None if is_cluster() else client(realtime_url())
        results, failure = _emit._publish_chunk(chunk, _emit._counter_commands(counts), publisher)
        done, done_items = [], []
        for i, item in enumerate(chunk):
            result = results[i] if i < len(results) else None
            if isinstance(result, Exception) or result is None:
                failure = failure or result
                outcomes.append((item, failure))
                continue
            published = eventlog.parse_result(item.room, result)
            done.append(published)
            done_items.append(item)
            outcomes.append((item, published))
        _emit._published(done_items, done)
        if failure is not None:  # the rest of the items wait for the relay, in order
            outcomes += [(item, failure) for item in items[start + len(chunk) :]]
            break
    return outcomes, failure


def _settle(outcomes: list[tuple[_emit._Prepared, Any]], failure: Exception | None) -> list[eventlog.Published]:
    """Delete the rows Redis confirmed; mark the others deferred. Returns what was published."""
    sent = [item.outbox_id for item, result in outcomes if isinstance(result, eventlog.Published)]
    unsent = [item.outbox_id for item, result in outcomes if not isinstance(result, eventlog.Published)]
    if sent:
        _delete_sent(sent)
    if unsent:
        error = f"{failure.__class__.__name__}: {failure}"[:ERROR_MAX] if failure else "no reply"
        OutboxEvent.objects.filter(pk__in=unsent).update(deferred=True, attempts=F("attempts") + 1, last_error=error)
    return [result for _, result in outcomes if isinstance(result, eventlog.Published)]


def _delete_sent(ids: list[int]) -> None:
    """Delete published rows. On PostgreSQL without waiting for the WAL flush (synchronous_commit
    off for this transaction only): the happy path's second commit costs no fsync. A crash of the
    database can lose such a delete (its last fraction of a second): the row is then published
    again by the relay, and the dedupe set answers the first seq, so it is not sent twice."""
    if connection.vendor != "postgresql":
        OutboxEvent.objects.filter(pk__in=ids).delete()
        return
    # One round trip: a query of several statements runs as one transaction (in autocommit mode,
    # or inside the caller's), so SET LOCAL holds for the DELETE. The ids are our own integers.
    listed = ",".join(str(int(pk)) for pk in ids)
    sql = f"SET LOCAL synchronous_commit TO OFF; DELETE FROM {OutboxEvent._meta.db_table} WHERE id IN ({listed})"  # noqa: S608 (integers, our table)
    with connection.cursor() as cursor:
        cursor.execute(sql)


def publish(items: list[_emit._Prepared]) -> list[eventlog.Published]:
    """Publish stored events now (after their commit). Never raises: what Redis did not take is
    left to the relay (and logged once per outage); a database error leaves the rows as they are
    (the relay publishes them after the grace period; a repeat is deduplicated)."""
    live = [item for item in items if not item.deferred]
    if not live:
        return []
    try:
        outcomes, failure = _publish_now(live)
        published = _settle(outcomes, failure)
    except DatabaseError as exc:
        log.error("outbox: could not record %d published events: %s", len(live), exc.__class__.__name__)
        return []
    if failure is not None:
        _outage.note_deferred(len(live) - len(published), failure)
    else:
        _outage.note_reachable()
    return published


class _Outage:
    """This process's view of a Redis outage, for its log: one line when it starts deferring
    events, one when Redis answers again (how many it deferred, for how long)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self.deferred = 0

    def note_deferred(self, n: int, failure: Exception | None) -> None:
        if n:
            metrics.incr("emit_deferred", n)
        with self._lock:
            first = self.since is None
            if first:
                self.since = time.monotonic()
            self.deferred += n
        if first:
            reason = failure.__class__.__name__ if failure else "an older event of the room is deferred"
            log.warning("outbox: Redis did not take events (%s): deferring them; the relay publishes them", reason)

    def note_reachable(self) -> None:
        if self.since is None:
            return
        with self._lock:
            since, count, self.since, self.deferred = self.since, self.deferred, None, 0
        if since is not None:
            log.warning(
                "outbox: Redis takes events again; %d events were deferred here in %.1f s",
                count,
                time.monotonic() - since,
            )


_outage = _Outage()


# --- the relay -------------------------------------------------------------------------------------


def _due() -> Q:
    grace = timedelta(seconds=settings.REALTIME_OUTBOX_GRACE_SECONDS)
    return Q(target=target()) & (Q(deferred=True) | Q(created_at__lt=timezone.now() - grace))


def _relay_lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the transaction holds the database's write lock
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_LOCK_ID])
        return bool(cursor.fetchone()[0])


def relay_once(limit: int = RELAY_BATCH) -> tuple[int, int]:
    """Publish up to `limit` due rows in id order (one relay at a time). Returns (published, still
    due in this batch): (0, 0) when there was nothing to do or another relay holds the lock.
    Raises nothing for Redis (the rows stay due); database errors propagate."""
    if not OutboxEvent.objects.filter(_due()).exists():
        return 0, 0
    with transaction.atomic():
        if not _relay_lock():
            return 0, 0
        rows = list(OutboxEvent.objects.filter(_due()).order_by("id")[:limit])
        items = []
        for row in rows:
            try:
                item = _emit._prepare(row.event, row.payload, row.room, row.namespace)
            except Exception as exc:  # the contract changed under a stored event: keep it, say so
                log.error("outbox: event %s (#%s) can no longer be sent: %s", row.event, row.pk, exc)
                OutboxEvent.objects.filter(pk=row.pk).update(deferred=True, last_error=str(exc)[:ERROR_MAX])
                continue
            items.append(_stored(item, row.pk, row.created_at, True))
        if not items:
            return 0, 0
        outcomes, failure = _publish_now(items)
        published = _settle(outcomes, failure)
    if published:
        oldest = min(row.created_at for row in rows)
        log.info(
            "outbox relay: published %d deferred events (oldest %.1f s old)",
            len(published),
            (timezone.now() - oldest).total_seconds(),
        )
    if failure is not None:
        _outage.note_deferred(0, failure)
    else:
        _outage.note_reachable()
    return len(published), len(items) - len(published)


def vacuum() -> bool:
    """VACUUM the outbox table (PostgreSQL; outside a transaction), by one process at a time.
    Returns whether it ran."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [VACUUM_LOCK_ID])
        if not cursor.fetchone()[0]:
            return False
        try:
            cursor.execute(f"VACUUM {OutboxEvent._meta.db_table}")
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [VACUUM_LOCK_ID])
    return True


def relay_forever(stop: threading.Event, alive: Callable[[], bool] = lambda: True) -> None:
    """relay_once() every REALTIME_OUTBOX_RELAY_INTERVAL_SECONDS (at once again after a full
    batch; backing off to 2 s while Redis does not take them, 5 s after a database error) until
    `stop` is set or `alive()` is false."""
    delay = 0.0
    vacuumed = time.monotonic()
    while not stop.wait(delay) and alive():
        interval = settings.REALTIME_OUTBOX_RELAY_INTERVAL_SECONDS
        try:
            every = settings.REALTIME_OUTBOX_VACUUM_SECONDS
            if every and time.monotonic() - vacuumed >= every:
                vacuumed = time.monotonic()
                vacuum()
            published, pending = relay_once()
        except DatabaseError as exc:
            log.warning("outbox relay: database error: %s", exc.__class__.__name__)
            connection.close()
            delay = 5.0
            continue
        except Exception:
            log.exception("outbox relay failed")
            delay = 5.0
            continue
        if pending:
            delay = min(max(delay * 2, interval), 2.0)  # Redis is not taking them: back off
        else:
            delay = 0.0 if published >= RELAY_BATCH else interval
    connection.close()


async def run(sio: Any) -> None:
    """REALTIME_SERVER_TASKS entry: the relay in a thread of this server process (it uses the
    database synchronously, with a connection of its own). The thread ends with the server: when
    this task is cancelled, or when the event loop it was started from is closed without
    cancelling it (an in-process ASGI application in a test: a thread left running there went on
    failing every 5 s for the rest of the test session)."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    thread = threading.Thread(
        target=relay_forever, args=(stop, lambda: not loop.is_closed()), name="outbox-relay", daemon=True
    )
    thread.start()
    log.info("outbox relay started")
    try:
        await asyncio.get_running_loop().create_future()  # until the server stops
    finally:
        stop.set()


# --- what ops shows --------------------------------------------------------------------------------


def backlog() -> dict[str, Any]:
    """Events waiting in the outbox and the age of the oldest, in seconds (0 when none)."""
    row = OutboxEvent.objects.aggregate(oldest=Min("created_at"), n=Count("pk"))
    oldest = row["oldest"]
    age = max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0
    return {"waiting": row["n"], "oldest_age_seconds": round(age, 3)}
