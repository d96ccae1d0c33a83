"""RQ queues whose jobs carry the id of the request that enqueued them (realtime.logcontext), so a
worker's log lines for a job name the request that started it, with no `meta=` at the call site.

`settings.RQ["QUEUE_CLASS"]` makes `RequestQueue` what `django_rq.get_queue()` returns (django-rq's
DjangoRQ: enqueued on commit); `queue_named()` is a queue by name, configured in RQ_QUEUES or
not, on the default connection with the JSON serializer, enqueueing at once."""

from __future__ import annotations

from typing import Any

import django_rq
from django_rq.queues import DjangoRQ
from rq import Queue
from rq.serializers import JSONSerializer

from realtime.logcontext import job_meta


class RequestIdMixin:
    def create_job(self, *args: Any, **kwargs: Any) -> Any:
        # Every job this queue makes (enqueue, enqueue_many, enqueue_at/in) goes through here.
        # An explicit meta wins; the request id is added under its own key.
        kwargs["meta"] = {**job_meta(), **(kwargs.get("meta") or {})}
        return super().create_job(*args, **kwargs)  # type: ignore[misc]


class RequestQueue(RequestIdMixin, DjangoRQ):
    """django-rq's queue (commit modes), with the request id on every job."""


class PlainRequestQueue(RequestIdMixin, Queue):
    """RQ's queue, with the request id on every job."""


def queue_named(name: str) -> Queue:
    return PlainRequestQueue(name, connection=django_rq.get_connection("default"), serializer=JSONSerializer)
