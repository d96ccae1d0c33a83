"""The fast path is decided once at start (realtime.compat.guard): on with the verified library
versions and passing checks, else off with one warning naming the reason, and the process then
runs python-socketio's own delivery."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import engineio
import pytest

from project.internals import Drift, Item, version
from realtime.compat import guard, inventory
from testing import BASE_DIR
from testing.processes import process_env


@pytest.fixture
def installed_verified(monkeypatch):
    """The installed versions are the verified ones (they are the pins; make upgrade-check runs
    this file with newer ones)."""
    monkeypatch.setattr(guard, "VERIFIED_WITH", {dist: version(dist) for dist in guard.VERIFIED_WITH})


def test_it_runs_with_the_verified_versions_when_every_check_passes(installed_verified):
    assert guard.why_not(True, True) is None


def test_it_is_off_when_turned_off():
    assert guard.why_not(False, True) == "REALTIME_FASTPATH=0"


def test_another_version_turns_it_off_unless_any_verified_version_is_accepted(monkeypatch, installed_verified):
    monkeypatch.setitem(guard.VERIFIED_WITH, "python-engineio", "4.0.0")
    reason = guard.why_not(True, True)
    assert reason is not None
    assert f"python-engineio {version('python-engineio')} is installed" in reason and "verified with 4.0.0" in reason
    assert guard.why_not(True, False) is None  # REALTIME_FASTPATH_VERIFIED_ONLY=0: the checks decide


def test_a_failing_check_turns_it_off_naming_the_library_version_and_item(monkeypatch):
    def gone() -> None:
        raise Drift("autobahn.websocket.protocol.WebSocketProtocol no longer has the attribute send_queue")

    item = Item("autobahn", "autobahn.websocket.protocol.WebSocketProtocol.send_queue", "reads", (), "", "", gone, True)
    monkeypatch.setattr(inventory, "ITEMS", [*inventory.ITEMS, item])
    reason = guard.why_not(True, False)
    assert reason == (
        f"check failed: autobahn {version('autobahn')}: autobahn.websocket.protocol.WebSocketProtocol.send_queue "
        "(reads): autobahn.websocket.protocol.WebSocketProtocol no longer has the attribute send_queue"
    )


def test_a_check_that_is_not_for_the_fast_path_does_not_turn_it_off(monkeypatch, installed_verified):
    def gone() -> None:
        raise Drift("gone")

    item = Item("rq", "rq.scheduler.RQScheduler._process", "reads", (), "", "", gone, fastpath=False)
    monkeypatch.setattr(inventory, "ITEMS", [*inventory.ITEMS, item])
    assert guard.why_not(True, True) is None


# A process starting with a library version the fast path was not verified with: one warning at
# start, python-socketio's own Engine.IO server and delivery.
STARTUP = """
import json, logging, sys
import django
django.setup()
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True)
from realtime.compat import guard
guard.VERIFIED_WITH["daphne"] = "0.1"
from realtime.compat import engine, fastpath
from realtime.compat.redis_manager import RealtimeManager
manager = RealtimeManager("redis://127.0.0.1:1/0", write_only=True)
print(json.dumps({
    "status": fastpath.status(),
    "engine": fastpath.engine_server_class() is engine.RealtimeEngineServer,
    "delivery": fastpath.local_delivery(manager).__qualname__,
}))
"""


@pytest.mark.parametrize("verified_only", ["1", "0"])
def test_a_process_started_with_another_version_falls_back_with_one_warning(verified_only):
    env = process_env(REALTIME_FASTPATH_VERIFIED_ONLY=verified_only)
    out = subprocess.run(
        [sys.executable, "-c", STARTUP], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    warnings = [line for line in out.stderr.splitlines() if "fast path off" in line]
    if verified_only == "1":
        reason = f"daphne {version('daphne')} is installed, the fast path was verified with 0.1"
        assert result["status"]["active"] is False and result["status"]["reason"].startswith(reason)
        assert result["engine"] is True and result["delivery"].startswith("library_delivery.")
        assert (
            len(warnings) == 1 and warnings[0].startswith("WARNING realtime.compat.guard: ") and reason in warnings[0]
        )
    else:
        assert result["status"] == {"active": True, "reason": None}
        assert result["engine"] is False and result["delivery"].startswith("local_delivery.")
        assert warnings == []


# --- python-engineio's driver table: our WebSocket class, or its own with one warning -------------


def test_the_engine_server_gets_our_websocket_class_through_the_driver_table():
    from engineio.async_drivers import asgi as eio_asgi

    from realtime.compat.engine import RealtimeEngineServer, ValidatingWebSocket, use_websocket_class

    server = RealtimeEngineServer(async_mode="asgi")
    assert server._async["websocket"] is ValidatingWebSocket
    plain = engineio.AsyncServer(async_mode="asgi")
    assert plain._async["websocket"] is eio_asgi.WebSocket
    assert use_websocket_class(plain, ValidatingWebSocket) and plain._async["websocket"] is ValidatingWebSocket


def test_without_the_driver_table_the_engine_keeps_its_own_class_with_one_warning(caplog):
    """A python-engineio that no longer keeps `_async` (here: a real server whose table is taken
    away) does not stop our server from starting: one warning names what is lost."""
    from realtime.compat.engine import ValidatingWebSocket, use_websocket_class

    server = engineio.AsyncServer(async_mode="asgi")
    del server._async
    with caplog.at_level(logging.WARNING, logger="realtime.compat.engine"):
        assert use_websocket_class(server, ValidatingWebSocket) is False
    assert not hasattr(server, "_async")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"python-engineio {version('python-engineio')} has no ASGI driver table with a 'websocket' entry: "
        "ValidatingWebSocket not used (python-engineio's own WebSocket class instead)"
    ]
