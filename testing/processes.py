"""Real processes for tests: daphne servers, RQ workers, Redis servers and nginx clusters of a
test's own, on the test database and the session's Redis unless told otherwise; and kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from testing import BASE_DIR, LOG_DIR, nginx
from tools import embedded_redis

# Server processes publish their counters to Redis (ops.process_stats) this often in clusters.
PROCESS_INTERVAL = "0.5"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a process the suite starts: test settings, the test database, the
    session's Redis, a 1 s worker heartbeat; `extra` on top."""
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


def start_private_worker(queue, **env: str) -> Proc:
    """A real TrackingWorker process on `queue` only (tools/rq_queue_worker.py; kill9-able)."""
    return spawn("rqworker-private", [sys.executable, "-m", "tools.rq_queue_worker", queue.name], process_env(**env))


# --- a Redis of the test's own ----------------------------------------------------------------------


@dataclass
class OwnRedis:
    port: int
    data_dir: Path
    persist: bool
    popen: object = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.popen = embedded_redis.start(self.port, self.data_dir, persist=self.persist)
        return self

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(10)

    def kill9(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def restart(self, *, keep_data: bool, down_seconds: float = 0) -> None:
        """Stop (SIGTERM: an AOF is flushed) and start again on the same port after
        `down_seconds`, with its data (append-only file kept) or empty (files removed)."""
        self.stop()
        time.sleep(down_seconds)  # the outage itself
        if not keep_data:
            self.wipe()
        self.start()

    def wipe(self) -> None:
        """Remove the stopped server's data (its log stays): it starts again empty."""
        for path in self.data_dir.glob("*"):
            if path.is_file() and path.name != "redis.log":
                path.unlink()
            elif path.is_dir():
                for inner in path.rglob("*"):
                    if inner.is_file():
                        inner.unlink()


def start_own_redis(*, persist: bool) -> OwnRedis:
    port = embedded_redis.free_port()
    data_dir = BASE_DIR / "var" / "test-redis-own" / f"{os.getpid()}-{port}"
    return OwnRedis(port, data_dir, persist).start()


# --- several servers behind nginx -----------------------------------------------------------------


@dataclass
class Cluster:
    servers: list[LiveServer]
    lb: nginx.Nginx
    redis_url: str

    @property
    def url(self) -> str:
        return self.lb.url

    def stop(self) -> None:
        self.lb.stop()
        for server in self.servers:
            server.proc.stop()


def start_cluster(n: int = 2, **env: str) -> Cluster:
    """`n` daphne processes on one Redis and one database, behind nginx."""
    from django.conf import settings

    lb_port = embedded_redis.free_port()
    ports = [embedded_redis.free_port() for _ in range(n)]
    origins = ",".join(f"http://127.0.0.1:{p}" for p in [lb_port, *ports])
    env = {"SOCKETIO_ALLOWED_ORIGINS": origins, "OPS_PROCESS_INTERVAL_SECONDS": PROCESS_INTERVAL, **env}
    servers: list[LiveServer] = []
    try:
        for port in ports:
            servers.append(start_server(port, **env))
        prefix = BASE_DIR / "var" / "test-nginx" / f"{os.getpid()}-{lb_port}"
        lb = nginx.start(port=lb_port, backends=[f"127.0.0.1:{p}" for p in ports], prefix=prefix)
    except Exception:
        for server in servers:
            server.proc.stop()
        raise
    return Cluster(servers, lb, env.get("REDIS_URL", settings.REDIS_URL))


# --- a lost machine ---------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), children first listed before their own."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found.append(child)
            found.extend(descendants(child))
    return found


def kill_machine(proc: Proc) -> int:
    """kill -9 a worker and every process under it, including RQ's work horse (which RQ puts in a
    process group of its own, so killing the worker's group misses it): a lost machine.
    Returns how many processes were killed."""
    victims = descendants(proc.popen.pid)
    proc.kill9()
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return 1 + len(victims)
