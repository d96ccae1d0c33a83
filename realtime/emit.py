"""emit(): one way to send an event to a room, from any context.

`emit()` is synchronous and needs no event loop, so it works the same from a sync view, an RQ job
in a worker process, a plain thread, a management command, or code running on a foreign asyncio
loop (seed 001's monitoring thread, whose emits silently went nowhere). Async code in the server
uses `aemit()`, which does the same on the running loop without blocking it.

Both publish through Redis (see eventlog: sequence number, replay log and pub/sub in one atomic
step), so an event reaches every server process and every client in the room, wherever it was
emitted. Inside a database transaction `emit()` waits for the commit (the database is the truth;
an event announces a change that is already committed) and is dropped if the transaction rolls
back: it is stored in the event outbox with the transaction (realtime/outbox.py), so if Redis
does not take it after the commit it is deferred and published later by the relay, not raised.
Outside a transaction, if Redis can't be reached, the failure is logged, counted and raised as
EmitError (never swallowed), unless the caller asked for `durable=True` delivery (docs/replay.md).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

from django.conf import settings
from django.db import transaction
from redis.exceptions import NoScriptError, ResponseError

from realtime import contract, eventlog, metrics
from realtime.redis import async_client, is_cluster, sync_client

log = logging.getLogger(__name__)
# One line per published event (event, room, namespace, seq, and the request/job ids the log
# filter adds): never the payload. Its own logger so a deployment can turn it down (LOGGING:
# "realtime.events": {"level": "WARNING"}).
event_log = logging.getLogger("realtime.events")

# Counters of published events, shared by every process (servers, workers, commands), read by
# ops: a hash event -> total, and one short-lived key per second for the events-per-second rate.
EMIT_COUNTS_KEY = "rt:emits"
EMIT_SECOND_PREFIX = "rt:emits:s:"
EMIT_SECOND_TTL = 120


class EmitError(RuntimeError):
    """The event could not be published (Redis unreachable or refused the write).

    From a batch (`emit_many()`, `batch()`), `published` holds what was confirmed published
    before the failure (in order) and `unsent` how many of the batch's events were not
    confirmed (refused, or unknown: Redis went away before answering)."""

    def __init__(self, message: str, *, published: list[eventlog.Published] | None = None, unsent: int = 1) -> None:
        super().__init__(message)
        self.published = published or []
        self.unsent = unsent


class Event(NamedTuple):
    """One event of `emit_many()`: a plain (event, data, room[, namespace]) tuple does as well."""

    event: str
    data: dict[str, Any]
    room: str
    namespace: str | None = None


class _Prepared(NamedTuple):
    event: str
    room: str
    namespace: str
    command: tuple  # EVALSHA sha 2 state log *args
    data: dict[str, Any] | None = None  # kept for the outbox (realtime/outbox.py)
    outbox_id: int | None = None  # stored in the outbox: published by realtime.outbox, never raises
    deferred: bool = False  # stored for the relay to publish (its room has a backlog)


# Events sent in one round trip at most (a larger batch goes out in several): bounds the request
# and the replies held in memory, and how long Redis runs one client's pipeline.
BATCH_MAX = 500


def _prepare(event: str, data: dict[str, Any], room: str, namespace: str | None) -> _Prepared:
    spec = contract.spec_for(event, direction="server_to_client", namespace=namespace)
    namespace = namespace or ("/" if "/" in spec.namespaces else spec.namespaces[0])
    if spec.target != "room":
        raise contract.ContractError(f"{event!r} is sent to one connection, not to a room", "unknown_event")
    if not isinstance(room, str) or ":" not in room and room != "staff":
        raise ValueError(f"room must look like 'kind:id' or 'staff', got {room!r}")
    if spec.rooms and contract.room_kind(room) not in spec.rooms:
        raise contract.ContractError(f"{event!r} is not sent to {contract.room_kind(room)!r} rooms")
    meta = contract.meta_field()
    if not isinstance(data, dict) or meta in data:
        raise contract.ContractError(f"{event!r}: payload must be an object without {meta!r}")
    if settings.REALTIME_VALIDATE_EVENTS:
        contract.validate(spec, data)
    keys, args = eventlog.script_args(event=event, payload=data, namespace=namespace, room=room)
    return _Prepared(event, room, namespace, ("EVALSHA", eventlog.PUBLISH_SHA, 2, *keys, *args), data)


def _failed(event: str, room: str, namespace: str, exc: Exception) -> EmitError:
    metrics.incr("emit_failures")
    log.error("emit failed event=%s room=%s ns=%s: %s", event, room, namespace, exc.__class__.__name__)
    return EmitError(f"could not publish {event!r} to {room!r}: {exc}")


class _Broken(Exception):
    """The connection failed after `results` (the replies read so far, in order) came back."""

    def __init__(self, results: list, exc: Exception) -> None:
        super().__init__(str(exc))
        self.results, self.exc = results, exc


def _round_trip(client: Any, commands: list[tuple]) -> list:
    """Send `commands` in one write on one pooled connection and read every reply, in order
    (an error reply is returned as its exception, not raised). redis-py's pipeline is not used:
    it retries a whole pipeline after a connection error, which can publish an event twice,
    and it can't say how many replies came back before a failure."""
    pool = client.connection_pool
    try:
        conn = pool.get_connection()  # connects (with redis-py's retries), replaces a stale one
    except Exception as exc:  # Redis unreachable: nothing was sent
        raise _Broken([], exc) from exc
    results: list = []
    try:
        conn.send_packed_command(conn.pack_commands(commands))
        for _ in commands:
            try:
                results.append(conn.read_response())
            except ResponseError as exc:  # an error reply: the connection is still in step
                results.append(exc)
    except Exception as exc:  # redis errors of every kind: the connection is disconnected
        conn.disconnect()
        raise _Broken(results, exc) from exc
    finally:
        pool.release(conn)
    return results


_expire_sent_for = ""  # the per-second counter key this process last set a TTL on


def _counter_commands(counts: dict[str, int]) -> list[tuple]:
    # REALTIME_EMIT_COUNTERS=False turns them off (ops then shows no emits by event nor events
    # per second). One HINCRBY per event name and one INCRBY per batch, not per event; the
    # second's key gets its TTL once per process and second (every process that counts in a
    # second sets it, so the key expires even if another process died before setting it).
    global _expire_sent_for
    if not counts or not settings.REALTIME_EMIT_COUNTERS:
        return []
    second = f"{EMIT_SECOND_PREFIX}{int(time.time())}"
    commands: list[tuple] = [("HINCRBY", EMIT_COUNTS_KEY, event, n) for event, n in counts.items()]
    commands.append(("INCRBY", second, sum(counts.values())))
    if second != _expire_sent_for:
        commands.append(("EXPIRE", second, EMIT_SECOND_TTL))
        _expire_sent_for = second
    return commands


def _send(items: list[_Prepared]) -> list[eventlog.Published]:
    """Publish `items` in order, BATCH_MAX per round trip, each with the atomic publish script
    (sequence number, log entry and PUBLISH in one step); the counters ride along."""
    published: list[eventlog.Published] = []
    for start in range(0, len(items), BATCH_MAX):
        chunk = items[start : start + BATCH_MAX]
        counts: dict[str, int] = {}
        for item in chunk:
            counts[item.event] = counts.get(item.event, 0) + 1
        results, failure = _publish_chunk(chunk, _counter_commands(counts))
        done, done_items, first_failed = [], [], None
        for i, item in enumerate(chunk):
            result = results[i] if i < len(results) else failure
            if isinstance(result, Exception) or result is None:
                failure, first_failed = failure or result, first_failed or item
                continue
            done.append(eventlog.parse_result(item.room, result))
            done_items.append(item)
        published += done
        _published(done_items, done)
        if first_failed is not None:
            raise _batch_failed(items, published, first_failed, failure)
    return published


# Scripts emit's commands may name by sha (EVALSHA), loaded again when Redis lost them.
SCRIPTS: dict[str, str] = {eventlog.PUBLISH_SHA: eventlog.PUBLISH_SCRIPT}


def _publish_chunk(chunk: list[_Prepared], counters: list[tuple], client: Any = None) -> tuple[list, Exception | None]:
    """The script's replies for `chunk` (fewer if the connection broke), and the failure if any."""
    if is_cluster():
        return _publish_chunk_cluster(sync_client(), chunk, counters)
    client = client or sync_client()
    try:
        results = _round_trip(client, [item.command for item in chunk] + counters)[: len(chunk)]
    except _Broken as broken:
        return broken.results[: len(chunk)], broken.exc
    missing = next((i for i, r in enumerate(results) if isinstance(r, NoScriptError)), None)
    if missing is None:
        return results, None
    # A Redis that lost its script cache (restarted, SCRIPT FLUSH) answers NOSCRIPT from the
    # first event on: load the script and send the rest again, in order.
    try:
        for sha in dict.fromkeys(item.command[1] for item in chunk[missing:]):
            client.script_load(SCRIPTS[sha])
        retried = _round_trip(client, [item.command for item in chunk[missing:]])
    except _Broken as broken:
        return results[:missing] + broken.results, broken.exc
    except Exception as exc:
        return results[:missing], exc
    return results[:missing] + retried, None


def _publish_chunk_cluster(client: Any, chunk: list[_Prepared], counters: list[tuple]) -> tuple[list, Exception | None]:
    """`_publish_chunk` on a Redis Cluster: redis-py's cluster pipeline sends each node its
    commands (a room's events all go to the node of the room's slot, in order). A node whose
    script cache is empty (a promoted replica) answers NOSCRIPT to all of its events (none was
    published): those are sent again with EVAL, in order. The counters go after, on their own:
    their node being down must not fail events that were published."""
    try:
        results = _cluster_round_trip(client, [item.command for item in chunk])
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            retried = _cluster_round_trip(
                client, [("EVAL", SCRIPTS[chunk[i].command[1]], *chunk[i].command[2:]) for i in missing]
            )
            for i, result in zip(missing, retried, strict=True):
                results[i] = result
    except Exception as exc:  # the cluster could not be reached: nothing is known to be published
        _refresh_slots(client)
        return [], exc
    if counters:
        try:
            _cluster_round_trip(client, counters)
        except Exception as exc:
            log.warning("emit counters not counted (%s)", exc.__class__.__name__)
    failure = next((r for r in results if isinstance(r, Exception)), None)
    if failure is not None:
        _refresh_slots(client)
    return results, failure


def _cluster_round_trip(client: Any, commands: list[tuple]) -> list:
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe.execute(raise_on_error=False)


def _refresh_slots(client: Any) -> None:
    """After a failure: read the slot map again (a failed-over master), so the next try goes to the
    new owner (redis-py's cluster pipeline does not do it by itself)."""
    try:
        client.nodes_manager.initialize()
    except Exception as exc:
        log.warning("cannot read the cluster's slot map (%s)", exc.__class__.__name__)


def _batch_failed(
    items: list[_Prepared], published: list[eventlog.Published], first: _Prepared, exc: Exception
) -> EmitError:
    if len(items) == 1:
        error = _failed(first.event, first.room, first.namespace, exc)
        error.published, error.unsent = published, 1
        return error
    unsent = len(items) - len(published)
    metrics.incr("emit_failures", unsent)
    log.error(
        "emit failed: %d of %d events not published, from event=%s room=%s ns=%s: %s",
        unsent,
        len(items),
        first.event,
        first.room,
        first.namespace,
        exc.__class__.__name__,
    )
    return EmitError(
        f"could not publish {unsent} of {len(items)} events ({len(published)} were published, in order; "
        f"the first not published: {first.event!r} to {first.room!r}): {exc}",
        published=published,
        unsent=unsent,
    )


# The request and job ids come with every line (realtime.logcontext.LogContextFilter).
_LOG_FORMAT = "event=%s room=%s ns=%s seq=%s"


def _published(items: list[_Prepared], published: list[eventlog.Published]) -> None:
    if not published:
        return
    metrics.incr("emits", len(published))
    if event_log.isEnabledFor(logging.INFO):  # one record per event
        # What event_log.info() does, less its search of the call stack for the caller's file and
        # line (a third of a batch's logging cost): every record names this function (its first line).
        make, handle = event_log.makeRecord, event_log.handle
        for item, p in zip(items, published, strict=False):
            args = (item.event, p.room, item.namespace, p.seq)
            handle(make(event_log.name, logging.INFO, __file__, _LOG_LINE, _LOG_FORMAT, args, None, "_published"))


_LOG_LINE = _published.__code__.co_firstlineno


def _count(pipe: Any, event: str) -> None:
    # aemit()'s counters (see _counter_commands).
    for command in _counter_commands({event: 1}):
        pipe.execute_command(*command)


# --- batches -----------------------------------------------------------------------------------------


class Batch:
    """The events emit() queued inside `with batch():`; `published` once they were sent."""

    def __init__(self) -> None:
        self.items: list[_Prepared] = []
        self.published: list[eventlog.Published] = []
        self._waiting_for_commit = False  # events of a transaction still to join after its commit
        self._closed = False
        self._late_flush = False

    def _add(self, item: _Prepared) -> None:
        if self._closed and not self._late_flush:
            self.published += _deliver([item])  # not reached with properly nested blocks; never lost
        else:
            self.items.append(item)

    def _after_commit(self, item: _Prepared) -> None:
        self._waiting_for_commit = True
        transaction.on_commit(lambda: self._add(item))

    def flush(self) -> list[eventlog.Published]:
        items, self.items = self.items, []
        sent = _deliver(items) if items else []
        self.published += sent
        return sent

    def _close(self) -> None:
        self._closed = True
        if self._waiting_for_commit and transaction.get_connection().in_atomic_block:
            # Closed inside the transaction: its events join after commit (each by its own
            # on_commit callback, so a rolled-back savepoint's are dropped) and go out together
            # from this callback, registered after them.
            self._late_flush = True
            transaction.on_commit(self.flush)
        self.flush()


_current_batch: ContextVar[Batch | None] = ContextVar("realtime_emit_batch", default=None)


@contextmanager
def batch() -> Iterator[Batch]:
    """Queue every emit() of the block and send them together when it ends: one Redis round trip
    per BATCH_MAX events instead of one per event. Each event still gets its sequence number,
    log entry and publish in one atomic step, in the order emitted; each emit() is validated
    (and raises) where it is called. Inside a transaction an event still waits for the commit
    and is dropped by a rollback. If the block raises, the events queued so far are still sent
    (as they would have been without the batch) and the block's exception propagates. A batch
    inside a batch joins it. Sending raises EmitError (with `published` and `unsent`)."""
    outer = _current_batch.get()
    if outer is not None:
        yield outer
        return
    current = Batch()
    token = _current_batch.set(current)
    try:
        yield current
    except BaseException:
        _current_batch.reset(token)
        try:
            current._close()
        except EmitError:  # logged and counted; the block's own exception is the one to see
            pass
        raise
    _current_batch.reset(token)
    current._close()


def emit_many(
    events: Iterable[Event | tuple], *, on_commit: bool = True, durable: bool = False
) -> list[eventlog.Published] | None:
    """Send many events, in order, in as few Redis round trips as possible (see `batch()`).

    Every event is validated before any is sent: one bad event raises and nothing is sent.
    Returns the events' positions in order when they were sent now; None when they wait for a
    transaction's commit (on_commit=True inside one: all go out after commit, or none on
    rollback) or for an enclosing `batch()`. `durable`: see `emit()`."""
    items = [_prepare(e[0], e[1], e[2], e[3] if len(e) > 3 else None) for e in events]
    return _dispatch(items, on_commit, durable)


def _dispatch(items: list[_Prepared], on_commit: bool, durable: bool = False) -> list[eventlog.Published] | None:
    """Send prepared events now, or after the transaction's commit, or with the enclosing batch.
    Inside a transaction (and with durable=True outside one) they are stored in the outbox first
    (realtime/outbox.py): then a failure to publish defers them instead of raising."""
    current = _current_batch.get()
    in_transaction = transaction.get_connection().in_atomic_block
    if settings.REALTIME_OUTBOX and (durable or (on_commit and in_transaction)):
        from realtime import outbox

        items = outbox.store(items)  # in the caller's transaction (or its own: durable outside one)
        on_commit = True
    if on_commit and in_transaction:
        if current is not None:
            for item in items:
                current._after_commit(item)
        else:
            transaction.on_commit(lambda: _deliver(items))
        return None
    if current is not None:
        current.items += items
        return None
    return _deliver(items)


def _deliver(items: list[_Prepared]) -> list[eventlog.Published]:
    """Publish now, in order: plain events raise EmitError on failure; events stored in the outbox
    are deferred instead (the relay publishes them) and never raise."""
    if all(item.outbox_id is None for item in items):
        return _send(items)
    from realtime import outbox

    published: list[eventlog.Published] = []
    for stored, group in itertools.groupby(items, key=lambda item: item.outbox_id is not None):
        run = list(group)
        published += outbox.publish(run) if stored else _send(run)
    return published


def emit(
    event: str,
    data: dict[str, Any],
    *,
    room: str,
    namespace: str | None = None,
    on_commit: bool = True,
    durable: bool = False,
) -> eventlog.Published | None:
    """Send `event` with `data` to everyone in `room`.

    The namespace defaults to the one the contract gives the event. Inside a transaction (and
    with on_commit=True) the event is stored in the outbox with the transaction, sent after
    commit and None is returned; if Redis does not take it then, it is deferred (the outbox relay
    publishes it when Redis answers), never raised. Inside `batch()` it is sent when the batch
    ends and None is returned; otherwise it is sent now and the room's sequence number and epoch
    are returned, or EmitError is raised, unless `durable`: then it is stored in the outbox first
    and a failure defers it (None is returned) instead of raising. See docs/replay.md."""
    sent = _dispatch([_prepare(event, data, room, namespace)], on_commit, durable)
    return sent[0] if sent else None


async def aemit(event: str, data: dict[str, Any], *, room: str, namespace: str | None = None) -> eventlog.Published:
    """`emit()` for coroutines running on the server's loop (no transaction handling: async
    Django code runs its ORM writes in sync_to_async blocks that have committed when they return)."""
    item = _prepare(event, data, room, namespace)
    client = async_client()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.execute_command(*item.command)
        _count(pipe, event)
        result = (await pipe.execute(raise_on_error=False))[0]
        if isinstance(result, NoScriptError):
            result = await client.eval(eventlog.PUBLISH_SCRIPT, *item.command[2:])
        elif isinstance(result, Exception):
            raise result
    except Exception as exc:
        raise _failed(event, item.room, item.namespace, exc) from exc
    published = eventlog.parse_result(item.room, result)
    _published([item], [published])
    return published


# --- rooms, named once ------------------------------------------------------------------------------


def user_room(user_id: int) -> str:
    return f"user:{int(user_id)}"


def tenant_room(tenant_id: int) -> str:
    return f"tenant:{int(tenant_id)}"


def project_room(project_id: int) -> str:
    return f"project:{int(project_id)}"


def run_room(run_id: int) -> str:
    return f"run:{int(run_id)}"


def job_room(job_id: str) -> str:
    return f"job:{job_id}"


STAFF_ROOM = "staff"


def emit_to_user(user_id: int, event: str, data: dict[str, Any], **kwargs: Any) -> eventlog.Published | None:
    return emit(event, data, room=user_room(user_id), **kwargs)


def emit_to_tenant(tenant_id: int, event: str, data: dict[str, Any], **kwargs: Any) -> eventlog.Published | None:
    return emit(event, data, room=tenant_room(tenant_id), **kwargs)


def emit_to_project(project_id: int, event: str, data: dict[str, Any], **kwargs: Any) -> eventlog.Published | None:
    return emit(event, data, room=project_room(project_id), **kwargs)
