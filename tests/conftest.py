"""Fixtures for the multi-process and fault tests: several server processes behind nginx, Redis
servers of a test's own (to restart), counters read from the server processes, the stream of
numbered events the fault tests send, and the counts they print. The helpers are in `testing`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from testing import BASE_DIR, redis_clients
from testing.counts import record_counts
from testing.processes import (
    PROCESS_INTERVAL,
    Cluster,
    LiveServer,
    OwnRedis,
    descendants,
    kill_machine,
    start_cluster,
    start_own_redis,
    start_server,
)
from testing.stream import Stream, disconnect_all, numbers, wait_all_received
from testing.waits import counter_delta, server_counters

# Re-exported only for tests that still write `from tests.conftest import ...` (branches in flight
# when the helpers moved to testing/). New tests import from testing/.
__all__ = ["BASE_DIR", "PROCESS_INTERVAL", "Cluster", "LiveServer", "OwnRedis", "Stream", "counter_delta"]
__all__ += ["descendants", "disconnect_all", "kill_machine", "numbers", "record_counts", "server_counters"]
__all__ += ["start_cluster", "start_server", "wait_all_received"]


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


@pytest.fixture(scope="module")
def second_server(django_db_setup, django_db_blocker, asgi_server) -> Iterator[LiveServer]:
    """A second server process (the session's `asgi_server` is the first), for this module's tests."""
    server = start_server()
    yield server
    server.proc.stop()


@pytest.fixture
def cluster(cluster_factory, django_db_blocker) -> Cluster:
    return cluster_factory(2)


@pytest.fixture
def own_redis() -> Iterator[Callable[..., OwnRedis]]:
    started: list[OwnRedis] = []

    def make(*, persist: bool) -> OwnRedis:
        instance = start_own_redis(persist=persist)
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()


@pytest.fixture
def on_own_redis(own_redis, settings):
    """This test process emits and enqueues on a Redis of the test's own (restartable); start
    servers and workers with REDIS_URL=on_own_redis.url."""
    import copy

    instance = own_redis(persist=True)
    settings.REDIS_URL = instance.url
    queues = copy.deepcopy(settings.RQ_QUEUES)
    queues["default"]["URL"] = instance.url
    settings.RQ_QUEUES = queues
    with redis_clients.fresh():
        yield instance


# --- a Redis Cluster of the suite's own (issue 11) -------------------------------------------------------


@pytest.fixture(scope="session")
def redis_cluster():
    """Three masters, one replica each, on loopback, for the whole session (tools/redis_cluster.py)."""
    import os

    from tools import redis_cluster as cluster_tools

    instance = cluster_tools.start(BASE_DIR / "var" / "test-redis-cluster" / str(os.getpid()), masters=3, replicas=1)
    yield instance
    instance.stop()


@pytest.fixture
def on_cluster(redis_cluster, settings):
    """This test process keeps its realtime data on the cluster (REALTIME_REDIS_URL); start servers
    with **cluster_env(on_cluster)."""
    settings.REALTIME_REDIS_URL = redis_cluster.url
    settings.REALTIME_REDIS_CLUSTER = True
    redis_cluster.wait_ok()
    with redis_clients.fresh():
        yield redis_cluster
