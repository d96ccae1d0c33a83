"""Helpers of the test suite (real parts, no mocks), imported by tests and by the conftest.py
fixtures that wrap them (pytest needs fixtures in conftest.py; everything else lives here):

- `testing.processes`: server, worker and Redis processes of a test's own, nginx clusters, kills.
- `testing.world`: the demo world (alice owns, bob is on her team, charlie is an outsider).
- `testing.waits`: waiting for something with a timeout (never a bare sleep), and draining a room.
- `testing.stream`: the numbered event stream of the fault tests, and what clients kept of it.
- `testing.counts`: the counts fault and replay tests record (printed at the end of the run).
- `testing.redis_clients`: resetting this process's realtime.redis clients when a test moves Redis.
- `testing.nginx`: nginx in front of server processes.
"""

from __future__ import annotations

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
LOG_DIR = BASE_DIR / "var" / "test-logs"
