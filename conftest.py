"""The test harness: real parts, no mocks.

- A private Redis server for the whole session (its own process and port), set before any test.
- `asgi_server`: daphne serving project.asgi on a free port, on the test database.
- `rq_worker` / `start_worker`: real `manage.py rqworker` processes (TrackingWorker).
- `world`: healthchecks-style users: alice owns, bob is on her team (same tenant, same project),
  charlie is an outsider (another tenant).
- `connect`: real python-socketio clients (realtime.client.RealtimeClient), disconnected after.

The fixtures are here (pytest finds them here); the helpers they wrap, and that tests import,
are in the `testing` package (processes, the demo world, waits, Redis client reset).
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from testing import BASE_DIR, LOG_DIR, counts
from testing.counts import record_counts
from testing.processes import LiveServer, Proc, process_env, spawn, start_private_worker, start_server, start_worker
from testing.waits import drain, wait_until
from testing.world import World, make_world
from tools import embedded_redis

# The helpers live in testing/; these names are re-exported only for tests that still write
# `from conftest import ...` (branches in flight when they moved). New tests import from testing/.
__all__ = ["BASE_DIR", "LOG_DIR", "LiveServer", "Proc", "World", "drain", "process_env", "record_counts", "spawn"]
__all__ += ["start_server", "start_worker", "wait_until"]

_redis_proc: subprocess.Popen | None = None


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if counts.recorded:
        terminalreporter.section("fault suite counts")
        for line in counts.recorded:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also appended to {counts.COUNTS_FILE})")


def pytest_configure(config: pytest.Config) -> None:
    """Point the whole suite (this process and every process it starts) at a private Redis."""
    global _redis_proc
    from django.conf import settings

    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        port = embedded_redis.free_port()
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _redis_proc = embedded_redis.start(port, BASE_DIR / "var" / f"test-redis-{worker}", persist=False)
        url = f"redis://127.0.0.1:{port}/0"
    os.environ["REDIS_URL"] = url
    settings.REDIS_URL = url
    settings.RQ_QUEUES["default"]["URL"] = url
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [url]
    LOG_DIR.mkdir(parents=True, exist_ok=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _redis_proc is not None:
        _redis_proc.terminate()
        _redis_proc.wait(10)


# --- processes (testing.processes) --------------------------------------------------------------


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker):
    server = start_server()
    yield server
    server.proc.stop()


@pytest.fixture(scope="session")
def rq_worker(asgi_server):
    worker = start_worker()
    yield worker
    worker.stop()


@pytest.fixture
def worker_factory(asgi_server):
    started: list[Proc] = []

    def make(**extra_env: str) -> Proc:
        proc = start_worker(**extra_env)
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def private_queue():
    """An RQ queue (JSON serializer) that only this test's workers listen to."""
    import django_rq
    from rq import Queue
    from rq.serializers import JSONSerializer

    queue = Queue(
        f"test-{uuid.uuid4().hex[:8]}", connection=django_rq.get_connection("default"), serializer=JSONSerializer
    )
    yield queue
    queue.delete(delete_jobs=True)


@pytest.fixture
def private_worker(asgi_server):
    """private_worker(queue, **env) -> a real TrackingWorker process on that queue (kill9-able)."""
    started: list[Proc] = []

    def make(queue, **env: str) -> Proc:
        proc = start_private_worker(queue, **env)
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


# --- data (testing.world) -------------------------------------------------------------------------


@pytest.fixture
def world(django_db_blocker) -> World:
    return make_world()


@pytest.fixture
def connect(asgi_server):
    """connect(token=..., namespaces=[...]) -> a connected RealtimeClient, closed after the test."""
    from realtime.client import RealtimeClient

    clients: list[RealtimeClient] = []

    def make(token: str | None = None, *, namespaces: list[str] | None = None, url: str | None = None, **kwargs):
        client = RealtimeClient(url or asgi_server.url, token=token, **kwargs)
        clients.append(client)
        client.connect(namespaces=namespaces)
        for ns in namespaces or ["/"]:
            client.wait_for("connection_status", namespace=ns, timeout=10)
        return client

    yield make
    for client in clients:
        try:
            client.disconnect()
        except Exception:  # noqa: S110 (already gone)
            pass


@pytest.fixture
def session_cookie(asgi_server):
    """session_cookie(user) -> the sessionid cookie of a logged-in browser session."""
    from testing.sessions import session_key

    return session_key
