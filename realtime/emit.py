"""emit(): one way to send an event to a room, from any context.

`emit()` is synchronous and needs no event loop, so it works the same from a sync view, an RQ job
in a worker process, a plain thread, a management command, or code running on a foreign asyncio
loop (seed 001's monitoring thread, whose emits silently went nowhere). Async code in the server
uses `aemit()`, which does the same on the running loop without blocking it.

Both publish through Redis (see eventlog: sequence number, replay log and pub/sub in one atomic
step), so an event reaches every server process and every client in the room, wherever it was
emitted. Inside a database transaction `emit()` waits for the commit (the database is the truth;
an event announces a change that is already committed) and is dropped if the transaction rolls
back. If Redis can't be reached, the failure is logged, counted and raised as EmitError: never
swallowed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from redis.exceptions import NoScriptError

from realtime import contract, eventlog, metrics
from realtime.redis import async_client, sync_client

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
    """The event could not be published (Redis unreachable or refused the write)."""


def _prepare(event: str, data: dict[str, Any], room: str, namespace: str | None) -> tuple[str, list, list]:
    spec = contract.spec_for(event, direction="server_to_client", namespace=namespace)
    namespace = namespace or ("/" if "/" in spec.namespaces else spec.namespaces[0])
    if spec.target != "room":
        raise contract.ContractError(f"{event!r} is sent to one connection, not to a room", "unknown_event")
    if not isinstance(room, str) or ":" not in room and room != "staff":
        raise ValueError(f"room must look like 'kind:id' or 'staff', got {room!r}")
    if spec.rooms and contract.room_kind(room) not in spec.rooms:
        raise contract.ContractError(f"{event!r} is not sent to {contract.room_kind(room)!r} rooms")
    if not isinstance(data, dict) or contract.meta_field() in data:
        raise contract.ContractError(f"{event!r}: payload must be an object without {contract.meta_field()!r}")
    if settings.REALTIME_VALIDATE_EVENTS:
        contract.validate(spec, data)
    keys, args = eventlog.script_args(event=event, payload=data, namespace=namespace, room=room)
    return namespace, keys, args


def _failed(event: str, room: str, namespace: str, exc: Exception) -> EmitError:
    metrics.incr("emit_failures")
    log.error("emit failed event=%s room=%s ns=%s: %s", event, room, namespace, exc.__class__.__name__)
    return EmitError(f"could not publish {event!r} to {room!r}: {exc}")


def _publish_now(event: str, room: str, namespace: str, keys: list, args: list) -> eventlog.Published:
    client = sync_client()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", eventlog.PUBLISH_SHA, len(keys), *keys, *args)
        _count(pipe, event)
        result = pipe.execute(raise_on_error=False)[0]  # one round trip: the publish and the counters
        if isinstance(result, NoScriptError):  # a Redis that lost its script cache (restarted)
            result = client.eval(eventlog.PUBLISH_SCRIPT, len(keys), *keys, *args)
        elif isinstance(result, Exception):
            raise result
    except Exception as exc:  # redis errors of every kind
        raise _failed(event, room, namespace, exc) from exc
    published = eventlog.parse_result(room, result)
    _published(event, namespace, published)
    return published


def _count(pipe: Any, event: str) -> None:
    # ~40 µs per emit (p50, measured); REALTIME_EMIT_COUNTERS=False turns it off (ops then shows
    # no emits by event nor events per second).
    if not getattr(settings, "REALTIME_EMIT_COUNTERS", True):
        return
    second = f"{EMIT_SECOND_PREFIX}{int(time.time())}"
    pipe.hincrby(EMIT_COUNTS_KEY, event, 1)
    pipe.incr(second)
    pipe.expire(second, EMIT_SECOND_TTL)


def _published(event: str, namespace: str, published: eventlog.Published) -> None:
    metrics.incr("emits")
    # The request and job ids come with every line (project.logcontext.LogContextFilter).
    event_log.info("event=%s room=%s ns=%s seq=%s", event, published.room, namespace, published.seq)


def emit(
    event: str,
    data: dict[str, Any],
    *,
    room: str,
    namespace: str | None = None,
    on_commit: bool = True,
) -> eventlog.Published | None:
    """Send `event` with `data` to everyone in `room`.

    The namespace defaults to the one the contract gives the event. Inside a transaction (and
    with on_commit=True) the event is sent after commit and None is returned; otherwise it is
    sent now and the room's sequence number and epoch are returned."""
    namespace, keys, args = _prepare(event, data, room, namespace)
    if on_commit and transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _publish_now(event, room, namespace, keys, args))
        return None
    return _publish_now(event, room, namespace, keys, args)


async def aemit(event: str, data: dict[str, Any], *, room: str, namespace: str | None = None) -> eventlog.Published:
    """`emit()` for coroutines running on the server's loop (no transaction handling: async
    Django code runs its ORM writes in sync_to_async blocks that have committed when they return)."""
    namespace, keys, args = _prepare(event, data, room, namespace)
    client = async_client()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", eventlog.PUBLISH_SHA, len(keys), *keys, *args)
        _count(pipe, event)
        result = (await pipe.execute(raise_on_error=False))[0]
        if isinstance(result, NoScriptError):
            result = await client.eval(eventlog.PUBLISH_SCRIPT, len(keys), *keys, *args)
        elif isinstance(result, Exception):
            raise result
    except Exception as exc:
        raise _failed(event, room, namespace, exc) from exc
    published = eventlog.parse_result(room, result)
    _published(event, namespace, published)
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
