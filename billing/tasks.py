"""The seed 000 background jobs and how they are enqueued.

Each job fetches its inputs, calls a billing service (one transaction, idempotency key), adds a
notification in that same transaction when this run made the change, and ends with seed 000's
completion event to the player's room: `job_application_complete`, `payment_complete` or
`liabilities_offset_complete`, in the success or the error shape. A rerun (RQ retry after a
crash, a double submit) moves no money and sends the same answer again.

Jobs go on `settings.BILLING_QUEUE` (default "default"), JSON-serialised, enqueued after commit,
with an explicit timeout and retries with back-off (`settings.BILLING_RETRY_INTERVALS`, seconds;
the worker's scheduler, `rqworker --with-scheduler`, requeues them): a retry is harmless because
of the idempotency keys. When the last attempt fails, `on_failure` ends the flow anyway: the
player gets the completion event once, with what the database recorded (a run that committed
and then crashed) or else seed 000's error shape (`error: "job_failed"`; nothing was changed).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import django_rq
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections, transaction
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry

from billing import bank, careers, testhooks
from billing.outcomes import Outcome, refused
from notifications.models import Notification
from notifications.services import notify
from realtime.emit import emit, user_room

log = logging.getLogger(__name__)

JOB_TIMEOUT_SECONDS = 60
FAILURE_SENT_KEY = "billing:failure-sent:{}"
FAILURE_SENT_TTL_SECONDS = 7 * 24 * 3600


def retry_policy() -> Retry:
    intervals = [int(s) for s in settings.BILLING_RETRY_INTERVALS]
    return Retry(max=len(intervals), interval=intervals)


def queue_name() -> str:
    return settings.BILLING_QUEUE


class EnqueueError(RuntimeError):
    """The job queue (Redis) could not take the job."""


def enqueue(func_path: str, *, kwargs: dict[str, Any], queue: Queue | None = None) -> None:
    """Enqueue after the current transaction commits (right away outside one, where a Redis
    failure raises EnqueueError to the caller)."""
    q = queue if queue is not None else django_rq.get_queue(queue_name())

    def send() -> None:
        try:
            job = q.enqueue(
                func_path,
                kwargs=kwargs,
                job_timeout=JOB_TIMEOUT_SECONDS,
                retry=retry_policy(),
                on_failure=Callback("billing.tasks.on_failure"),
                description=func_path.rsplit(".", 1)[-1],
            )
        except RedisError as exc:
            log.error("billing job not enqueued %s queue=%s: %s", func_path, q.name, exc.__class__.__name__)
            raise EnqueueError(f"could not enqueue {func_path}") from exc
        log.info("billing job enqueued %s id=%s queue=%s", func_path, job.id, q.name)

    transaction.on_commit(send)


def _finish(event: str, user_id: int, outcome: Outcome) -> Outcome:
    username = get_user_model().objects.values_list("username", flat=True).get(pk=user_id)
    # durable: the outcome is committed; a Redis outage defers its announcement (the outbox)
    emit(event, outcome.event(username), room=user_room(user_id), durable=True)
    log.info("%s user=%s ok=%s error=%s", event, user_id, outcome.ok, outcome.error or "-")
    return outcome


def _as_result(outcome: Outcome) -> dict[str, Any]:
    return {"ok": outcome.ok, "error": outcome.error, "payload": outcome.payload}


# --- jobs ----------------------------------------------------------------------------------------


def make_payment(*, user_id: int, amount: str, payee: str, description: str = "", idempotency_key: str) -> dict:
    with transaction.atomic():
        outcome = bank.pay(
            user_id=user_id,
            amount=Decimal(amount),
            payee=payee,
            description=description,
            idempotency_key=idempotency_key,
        )
        if outcome.created:
            notify(user_id=user_id, title="Payment sent", message=outcome.message, kind=Notification.Type.BILLING)
        testhooks.checkpoint("payment:before_commit", key=idempotency_key)
    testhooks.checkpoint("payment:after_commit", key=idempotency_key)
    return _as_result(_finish("payment_complete", user_id, outcome))


def offset_liability(*, user_id: int, liability_id: int, amount: str | None, idempotency_key: str) -> dict:
    with transaction.atomic():
        outcome = bank.offset_liability(
            user_id=user_id,
            liability_id=liability_id,
            amount=Decimal(amount) if amount is not None else None,
            idempotency_key=idempotency_key,
        )
        if outcome.created:
            notify(user_id=user_id, title="Liability offset", message=outcome.message, kind=Notification.Type.BILLING)
    return _as_result(_finish("liabilities_offset_complete", user_id, outcome))


def decide_application(*, application_id: int, user_id: int) -> dict:
    with transaction.atomic():
        outcome = careers.decide(application_id=application_id)
        if outcome.created:
            title = "You're hired" if outcome.ok else "Application not successful"
            notify(user_id=user_id, title=title, message=outcome.message, kind=Notification.Type.JOB)
    return _as_result(_finish("job_application_complete", user_id, outcome))


# --- when every attempt failed -------------------------------------------------------------------

COMPLETION_EVENTS = {
    "billing.tasks.make_payment": "payment_complete",
    "billing.tasks.offset_liability": "liabilities_offset_complete",
    "billing.tasks.decide_application": "job_application_complete",
}
FAILED_MESSAGES = {
    "payment_complete": "Your payment could not be processed; no money was moved. Please try again.",
    "liabilities_offset_complete": "Your liability update could not be processed; nothing was changed. Please try again.",
    "job_application_complete": "Your application could not be processed. Please try again.",
}


def _recorded(func_name: str, kwargs: dict[str, Any]) -> Outcome | None:
    if func_name == "billing.tasks.make_payment":
        return bank.recorded_payment(kwargs.get("idempotency_key", ""))
    if func_name == "billing.tasks.offset_liability":
        return bank.recorded_offset(kwargs.get("idempotency_key", ""))
    if func_name == "billing.tasks.decide_application" and isinstance(kwargs.get("application_id"), int):
        return careers.recorded_decision(kwargs["application_id"])
    return None


def on_failure(job, connection, exc_type, exc_value, traceback, *args: Any, **kwargs: Any) -> None:
    """RQ failure callback (the job raised, or its worker died). With a retry left RQ runs it
    again later; after the last attempt the player is told, once per job."""
    if job.retries_left:
        return
    event = COMPLETION_EVENTS.get(job.func_name)
    job_kwargs = job.kwargs or {}
    user_id = job_kwargs.get("user_id")
    if event is None or not isinstance(user_id, int):
        return
    if not connection.set(FAILURE_SENT_KEY.format(job.id), 1, nx=True, ex=FAILURE_SENT_TTL_SECONDS):
        return  # already told (a second failure callback for the same job)
    close_old_connections()
    name = getattr(exc_type, "__name__", str(exc_type))
    outcome = _recorded(job.func_name, job_kwargs)
    if outcome is None:
        outcome = refused("job_failed", FAILED_MESSAGES[event])
    log.error("billing job failed for good %s id=%s (%s): telling user %s", job.func_name, job.id, name, user_id)
    _finish(event, user_id, outcome)
