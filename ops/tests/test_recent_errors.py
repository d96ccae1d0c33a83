"""An ERROR logged in a real worker process shows in /api/stats recent_errors (ops/errorlog.py):
its first line only, truncated, with its logger and process."""

from __future__ import annotations

import os
import uuid

import django_rq
import pytest

from ops import errorlog
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_error_logged_in_a_worker_is_in_recent_errors(staff, browser, asgi_server, rq_worker):
    marker = f"recent-error-{uuid.uuid4().hex}"
    first_line = f"{marker} " + "x" * 400
    django_rq.get_queue("default").enqueue(
        "ops.tests.support.log_error", kwargs={"message": f"{first_line}\nsecond line"}, job_timeout=30
    )
    http = browser(staff)
    found: list[dict] = []

    def logged() -> bool:
        r = http.get(f"{asgi_server.url}/api/stats", timeout=10)
        assert r.status_code == 200, r.text
        found[:] = [e for e in r.json()["recent_errors"] if e["message"].startswith(marker)]
        return bool(found)

    wait_until(logged, timeout=30, what="the worker's error in recent_errors")
    (entry,) = found
    assert entry["message"] == first_line[: errorlog.MAX_MESSAGE]  # first line, truncated
    assert entry["level"] == "ERROR"
    assert entry["source"].startswith("ops.tests.support (")
    assert not entry["source"].endswith(f":{os.getpid()})")  # another process: the worker's
    assert entry["time"].endswith("Z")
