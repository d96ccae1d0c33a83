"""The test harness: real parts, no mocks.

- A private Redis server for the whole session (its own process and port), set before any test.
- `asgi_server`: daphne serving project.asgi on a free port, on the test database.
- `rq_worker` / `start_worker`: real `manage.py rqworker` processes (TrackingWorker).
- `world`: healthchecks-style users: alice owns, bob is on her team (same tenant, same project),
  charlie is an outsider (another tenant).
- `connect`: real python-socketio clients (realtime.client.RealtimeClient), disconnected after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tools import embedded_redis

BASE_DIR = Path(__file__).resolve().parent
LOG_DIR = BASE_DIR / "var" / "test-logs"

COUNTS_FILE = LOG_DIR / "fault-counts.txt"

_redis_proc: subprocess.Popen | None = None
# The count lines the fault and replay tests recorded in this run (printed at the end of it).
_recorded_counts: list[str] = []


def record_counts(test: str, counts: dict[str, object]) -> str:
    """Record a test's counts (events sent, received, replayed, duplicates dropped...): printed in
    the run's terminal summary (so CI shows them without -s) and appended to
    var/test-logs/fault-counts.txt (an absolute path: the suite may run from any directory)."""
    line = f"{test}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
    print(line)
    _recorded_counts.append(line)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with COUNTS_FILE.open("a") as handle:
        handle.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + line + "\n")
    return line


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _recorded_counts:
        terminalreporter.section("fault suite counts")
        for line in _recorded_counts:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also appended to {COUNTS_FILE})")


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


# --- processes ------------------------------------------------------------------------------------


def process_env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings_test",
        DATABASE_NAME_OVERRIDE=str(settings.DATABASES["default"]["NAME"]),
        REDIS_URL=settings.REDIS_URL,
        PYTHONUNBUFFERED="1",
        RQ_JOB_MONITORING_INTERVAL="1",
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def kill9(self) -> None:
        """kill -9 the process and its children (a worker and its work horse: a lost machine).

        RQ puts the work horse in a process group of its own, so each child's group goes too."""
        pid = self.popen.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            children = []
        for child in children:
            try:
                os.killpg(os.getpgid(int(child)), signal.SIGKILL)
            except (ProcessLookupError, FileNotFoundError):
                pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill9()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def spawn(name: str, args: list[str], env: dict[str, str]) -> Proc:
    log_path = LOG_DIR / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
    handle = open(log_path, "wb")  # noqa: SIM115 (lives as long as the process)
    popen = subprocess.Popen(
        args, cwd=BASE_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    return Proc(name, popen, log_path)


@dataclass
class LiveServer:
    url: str
    port: int
    proc: Proc


def start_server(port: int | None = None, **extra_env: str) -> LiveServer:
    port = port or embedded_redis.free_port()
    origins = f"http://127.0.0.1:{port},http://localhost:{port}"
    env = process_env(**{"SOCKETIO_ALLOWED_ORIGINS": origins, **extra_env})
    proc = spawn(
        "daphne", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"], env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"server exited:\n{proc.log()}")
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return LiveServer(url, port, proc)
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"server did not answer /healthz in 30s:\n{proc.log()}")
        time.sleep(0.1)  # polling a process that is starting: there is no event to wait on


def start_worker(**extra_env: str) -> Proc:
    """A real `manage.py rqworker` (TrackingWorker) on the default queue."""
    args = [sys.executable, "manage.py", "rqworker", "default", "--with-scheduler"]
    return spawn("rqworker", args, process_env(**extra_env))


def wait_until(condition, *, timeout: float, what: str) -> None:
    """Poll a condition that has no event to wait on (a Redis key's expiry, a row's state)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.1)


def drain(client, room: str, *, namespace: str = "/") -> None:
    """Everything sent to `room` on `namespace` so far has reached `client`: a marker emitted now
    arrives after it. Assert that a client got nothing only after this (a bare `== []` straight
    after another client's event passes by luck when the stray event is merely late)."""
    from realtime.emit import emit

    marker = uuid.uuid4().int % 2**31
    emit("test_event", {"n": marker, "source": "drain"}, room=room, namespace=namespace)
    client.wait_for(
        "test_event",
        lambda d: d.get("n") == marker and d["_meta"]["room"] == room,
        namespace=namespace,
        timeout=10,
    )


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
        proc = spawn(
            "rqworker-private", [sys.executable, "-m", "tools.rq_queue_worker", queue.name], process_env(**env)
        )
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


# --- data ------------------------------------------------------------------------------------------


@dataclass
class World:
    acme: object
    globex: object
    alice: object
    bob: object
    charlie: object
    apollo: object  # alice + bob
    borealis: object  # alice only
    cygnus: object  # charlie (globex)

    def token(self, user, **kwargs) -> str:
        from accounts.tokens import issue_jwt

        return issue_jwt(user=user, **kwargs)


@pytest.fixture
def world(django_db_blocker) -> World:
    from django.contrib.auth import get_user_model

    from accounts.models import Profile, Project, Tenant

    suffix = str(time.monotonic_ns())[-8:]
    User = get_user_model()
    acme = Tenant.objects.create(name=f"Acme {suffix}", slug=f"acme-{suffix}")
    globex = Tenant.objects.create(name=f"Globex {suffix}", slug=f"globex-{suffix}")

    def user(name: str, tenant) -> object:
        u = User.objects.create_user(f"{name}{suffix}", f"{name}@example.com", "password")
        Profile.objects.create(user=u, tenant=tenant)
        return u

    alice, bob, charlie = user("alice", acme), user("bob", acme), user("charlie", globex)
    apollo = Project.objects.create(tenant=acme, name="Apollo")
    apollo.members.set([alice, bob])
    borealis = Project.objects.create(tenant=acme, name="Borealis")
    borealis.members.set([alice])
    cygnus = Project.objects.create(tenant=globex, name="Cygnus")
    cygnus.members.set([charlie])
    return World(acme, globex, alice, bob, charlie, apollo, borealis, cygnus)


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
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    def make(user) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]  # ModelBackend (axes only checks)
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
        return store.session_key

    return make
