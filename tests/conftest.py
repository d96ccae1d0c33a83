"""Fixtures for the multi-process and fault tests: several server processes behind nginx, Redis
servers of a test's own (to restart), counters read from the server processes, the stream of
numbered events the fault tests send, and the counts they print."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from conftest import LiveServer, start_server
from conftest import record_counts as record_counts  # re-exported for the fault tests
from tests import nginx
from tools import embedded_redis

BASE_DIR = Path(__file__).resolve().parent.parent
# Server processes publish their counters to Redis (ops.process_stats) this often.
PROCESS_INTERVAL = "0.5"


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


@pytest.fixture
def cluster_factory() -> Iterator[Callable[..., Cluster]]:
    started: list[Cluster] = []

    def make(n: int = 2, **env: str) -> Cluster:
        cluster = start_cluster(n, **env)
        started.append(cluster)
        return cluster

    yield make
    for cluster in started:
        cluster.stop()


@pytest.fixture
def cluster(cluster_factory, django_db_blocker) -> Cluster:
    return cluster_factory(2)


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
            for path in self.data_dir.glob("*"):
                if path.is_file() and path.name != "redis.log":
                    path.unlink()
                elif path.is_dir():
                    for inner in path.rglob("*"):
                        if inner.is_file():
                            inner.unlink()
        self.start()


@pytest.fixture
def own_redis() -> Iterator[Callable[..., OwnRedis]]:
    started: list[OwnRedis] = []

    def make(*, persist: bool) -> OwnRedis:
        port = embedded_redis.free_port()
        data_dir = BASE_DIR / "var" / "test-redis-own" / f"{os.getpid()}-{port}"
        instance = OwnRedis(port, data_dir, persist).start()
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()


@pytest.fixture
def on_own_redis(own_redis, settings, monkeypatch):
    """This test process emits and enqueues on a Redis of the test's own (restartable); start
    servers and workers with REDIS_URL=on_own_redis.url."""
    import copy

    from realtime import redis as realtime_redis

    instance = own_redis(persist=True)
    settings.REDIS_URL = instance.url
    queues = copy.deepcopy(settings.RQ_QUEUES)
    queues["default"]["URL"] = instance.url
    settings.RQ_QUEUES = queues
    monkeypatch.setattr(realtime_redis, "_sync", None)
    yield instance
    realtime_redis._sync = None


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


def kill_machine(proc) -> int:
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


# --- counters ----------------------------------------------------------------------------------------


def server_counters(redis_url: str, *, since: float | None = None, timeout: float = 10) -> dict[str, int]:
    """The counters of every live server process on this Redis, summed (ops.process_stats keys).
    With `since`, waits until each process has published numbers newer than that."""
    conn = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while True:
        snapshots = [json.loads(raw) for raw in (conn.get(k) for k in conn.scan_iter("ops:proc:*")) if raw]
        fresh = since is None or all(s["updated_at"] > since for s in snapshots)
        if fresh or time.monotonic() > deadline:
            totals: dict[str, int] = {}
            for snap in snapshots:
                for name, value in snap.get("counters", {}).items():
                    totals[name] = totals.get(name, 0) + value
            return totals
        time.sleep(0.1)  # the processes publish on their own clock; nothing to wait on


def counter_delta(before: dict[str, int], after: dict[str, int], name: str) -> int:
    return after.get(name, 0) - before.get(name, 0)


# --- a stream of numbered events ------------------------------------------------------------------


@dataclass
class Stream:
    """Emits test_event {n: 1, 2, ...} to `rooms` from a thread, every `interval` seconds, until
    stopped; emits that fail (Redis down) are retried, so every number is sent exactly once."""

    rooms: list[str]
    interval: float = 0.01
    sent: int = 0
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _progress: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None

    def start(self) -> Stream:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        from realtime.emit import EmitError, emit

        n = 0
        while not self._stop.is_set():
            n += 1
            # Every room gets every number: a stop takes effect between numbers, never in the middle
            # of one (otherwise the last number reaches some rooms and not others).
            for room in self.rooms:
                while True:
                    try:
                        if self.failures and self._already_logged(room, n):
                            break
                        emit("test_event", {"n": n, "source": "stream"}, room=room, on_commit=False)
                        break
                    except EmitError:  # Redis is down: back off, then retry the same number
                        self.failures += 1
                        time.sleep(0.05)
            with self._progress:
                self.sent = n
                self._progress.notify_all()
            self._stop.wait(self.interval)

    @staticmethod
    def _already_logged(room: str, n: int) -> bool:
        """After a failed emit, whether it was published anyway (Redis ran the script, then the
        connection dropped before the reply): a careful producer checks before it retries."""
        from realtime import eventlog
        from realtime.redis import sync_client

        try:
            entries = sync_client().xrevrange(eventlog.log_key("/", room), count=1)
        except Exception:
            return False
        return bool(entries) and json.loads(entries[0][1][b"m"])["data"][0].get("n") == n

    def stop(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        return self.sent

    def wait_sent(self, n: int, timeout: float = 30) -> None:
        with self._progress:
            if not self._progress.wait_for(lambda: self.sent >= n, timeout):
                raise AssertionError(f"stream sent only {self.sent} of {n} events in {timeout}s")


def numbers(client, room: str, namespace: str = "/") -> list[int]:
    """The n of every test_event the client kept (after dedupe) for one room, in arrival order."""
    return [
        d["n"]
        for d in client.received("test_event", namespace=namespace)
        if d.get("_meta", {}).get("room") == room and d.get("source") == "stream"
    ]


def disconnect_all(clients: list) -> None:
    """Disconnect clients in parallel (a long-polling client's disconnect can wait for its poll)."""
    threads = [threading.Thread(target=c.disconnect, daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def wait_all_received(clients_rooms: list[tuple[object, str]], last: int, timeout: float = 30) -> None:
    """Wait until each (client, room) has kept test_event n == last; on a timeout, say what each
    client has (last numbers, disconnects, connection errors, resyncs)."""
    deadline = time.monotonic() + timeout
    for client, room in clients_rooms:
        try:
            client.wait_for(
                "test_event",
                lambda d, room=room: d.get("n") == last and d.get("_meta", {}).get("room") == room,
                timeout=max(0.1, deadline - time.monotonic()),
            )
        except AssertionError:
            report = [
                f"{room}: n={numbers(c, room)[-3:]} kept={len(numbers(c, room))} disconnects={c.disconnects} "
                f"connected={c.sio.connected} errors={c.connect_errors[-2:]} resyncs={c.resyncs[-2:]}"
                for c, room in clients_rooms
            ]
            raise AssertionError(f"not every client got n={last}:\n" + "\n".join(report)) from None
