"""Seed 001 (monitoring dashboard): its dashboards, in Python and in JS, read the seed's four
statistics fields from `statistics_update`; the application's counters get there through
ops.app_stats, and its own statistics dictionary is accepted once its fields are declared.
Expectations: tests/seeds/expectations.py."""

from __future__ import annotations

import sys

import pytest
import requests

from ops import app_stats
from realtime.emit import STAFF_ROOM, emit
from testing import BASE_DIR
from testing.contract import extra_contract
from testing.node import run_client, run_node

from .conftest import SEED_001_FIELDS

COUNTS = {"total_attempts": 15, "successful_votes": 10, "failed_votes": 5}
OWN = {"total_attempts": 16, "successful_votes": 11, "failed_votes": 5, "active_instances": 2}
SHOWN = {"Total Attempts": 15, "Successful Votes": 10, "Failed Votes": 5}

pytestmark = pytest.mark.django_db  # the data is the package's (conftest.py); tests only read


@pytest.fixture(scope="module")
def counted(seeds):
    """The application counts its votes (app_stats counters, shared through Redis)."""
    for name, n in COUNTS.items():
        app_stats.reset(name)
        app_stats.incr(name, n)
    yield
    for name in COUNTS:
        app_stats.reset(name)


@pytest.fixture(scope="module")
def python_dashboard(seeds, counted):
    def on_line(line: dict) -> None:
        if line.get("event") == "statistics_update" and not line["own"]:
            with extra_contract(SEED_001_FIELDS):  # the application's process declares them too
                emit("statistics_update", OWN, room=STAFF_ROOM)

    script = BASE_DIR / "tests/seeds/python/seed001_dashboard.py"
    argv = [sys.executable, str(script), seeds.server.url, seeds.jwt(seeds.staff)]
    return run_client(argv, {"PATH": "/usr/bin:/bin"}, on_line, timeout=40)


@pytest.fixture(scope="module")
def node_dashboard(seeds, counted):
    env = {"SERVER_URL": seeds.server.url, "TOKEN": seeds.jwt(seeds.staff)}
    return run_node(BASE_DIR / "tests/seeds/node/seed001_dashboard.mjs", env, timeout=40)


def stats_of(lines: list[dict], own: bool | None = None) -> list[dict]:
    return [x for x in lines if x.get("event") == "statistics_update" and (own is None or x["own"] == own)]


def test_s001_broadcast(node_dashboard):
    """Differs on purpose (docs/ops.md, statistics go to the staff room): a connection that has
    not joined `staff` gets none, while the subscribed dashboard got two."""
    assert len(stats_of(node_dashboard)) >= 2 and {"done": True} in node_dashboard
    assert [x for x in node_dashboard if "as_written" in x] == []


def test_s001_python_fields(python_dashboard, seeds):
    product = stats_of(python_dashboard, own=False)[0]
    assert {k: product["fields"][k] for k in SHOWN} == SHOWN
    assert product["fields"]["Active Instances"] >= 1 and product["room"] == STAFF_ROOM


def test_s001_node_fields(node_dashboard):
    shown = stats_of(node_dashboard)[-1]["shown"]
    assert {k: shown[k] for k in SHOWN} == SHOWN and shown["Active Instances"] >= 1


def test_s001_app_own_statistics(python_dashboard):
    own = stats_of(python_dashboard, own=True)
    assert [x["fields"] for x in own] == [
        {"Total Attempts": 16, "Successful Votes": 11, "Failed Votes": 5, "Active Instances": 2}
    ]


def test_s001_status_update(python_dashboard):
    status = next(x["data"] for x in python_dashboard if x.get("event") == "status_update")
    assert status["monitoring_active"] is True and status["loop_count"] >= 1 and status["active_instances"] >= 1


def test_s001_instances_update(python_dashboard):
    assert next(x["count"] for x in python_dashboard if x.get("event") == "instances_update") >= 2  # server, worker


def test_s001_polling(seeds, counted):
    r = requests.get(
        f"{seeds.server.url}/api/stats", headers={"Authorization": f"Bearer {seeds.jwt(seeds.staff)}"}, timeout=10
    )
    assert r.status_code == 200, r.text
    stats = r.json()
    assert {k: stats[k] for k in COUNTS} == COUNTS and stats["active_instances"] >= 1
