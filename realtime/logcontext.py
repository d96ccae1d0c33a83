"""Request and job ids on every log line.

- `RequestIdMiddleware` gives each HTTP request an id: a sane incoming `X-Request-ID` (what nginx
  or a client sent: 1-64 characters of letters, digits and `._:-`), else a new one, and echoes it
  in the response's `X-Request-ID` header. The id lives in a contextvar for the request's
  duration, so code it calls (ORM, on_commit callbacks, emits, enqueues) can read it.
- `job_meta()` is the meta to enqueue an RQ job with: the current request id, so the worker's
  lines for that job carry it (jobs enqueued by a job inherit it).
- `job_context(job)` (TrackingWorker) binds a job's id and its request id while the worker runs
  it, its callbacks included; `rq.get_current_job()` is the fallback (RQ sets it only around the
  job function itself).
- `LogContextFilter` (LOGGING's console handler) puts `request_id`, `job` and `ids`
  (`request_id=… job=…`, `job=` only inside a job; `request_id=-` outside a request) on every
  record.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

HEADER = "X-Request-ID"
META_KEY = "request_id"
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """The incoming id if it is sane (no spaces, quotes, newlines; at most 64 characters)."""
    if value and _SANE.fullmatch(value):
        return value
    return new_request_id()


def _rq_job() -> Any:
    try:
        from rq import get_current_job

        return get_current_job()
    except Exception:  # rq not importable here, or no RQ context
        return None


def current_job_id() -> str | None:
    job_id = job_id_var.get()
    if job_id is None:
        job = _rq_job()
        job_id = job.id if job is not None else None
    return job_id


def current_request_id() -> str | None:
    """The request's id in a request; in a job, the id of the request that enqueued it."""
    request_id = request_id_var.get()
    if request_id is None:
        job = _rq_job()
        meta = getattr(job, "meta", None) if job is not None else None
        if isinstance(meta, dict) and isinstance(meta.get(META_KEY), str):
            request_id = meta[META_KEY]
    return request_id


def job_meta() -> dict[str, str]:
    """`meta=` for `Queue.enqueue()`: the current request id, if there is one."""
    request_id = current_request_id()
    return {META_KEY: request_id} if request_id else {}


@contextlib.contextmanager
def job_context(job: Any) -> Iterator[None]:
    meta = getattr(job, "meta", None) or {}
    request_id = meta.get(META_KEY) if isinstance(meta.get(META_KEY), str) else None
    job_token = job_id_var.set(str(job.id))
    request_token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(request_token)
        job_id_var.reset(job_token)


class LogContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id() or "-"
        job = current_job_id()
        record.request_id = request_id
        record.job = job or "-"
        record.ids = f"request_id={request_id}" + (f" job={job}" if job else "")
        return True


class RequestIdMiddleware:
    """First in MIDDLEWARE: every response, redirects and errors included, has the header."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self._acall(request)
        token = self._begin(request)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[HEADER] = request.request_id
        return response

    async def _acall(self, request: Any) -> Any:
        token = self._begin(request)
        try:
            response = await self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[HEADER] = request.request_id
        return response

    @staticmethod
    def _begin(request: Any) -> Any:
        request.request_id = accept_request_id(request.headers.get(HEADER))
        return request_id_var.set(request.request_id)
