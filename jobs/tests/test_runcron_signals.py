"""runcron stops cleanly on SIGTERM/SIGINT (its own handlers, as rq's start() installs them):
it registers its death and exits 0, instead of dying mid-tick or lingering until SIGKILL."""

from __future__ import annotations

import signal
import sys

import pytest

from testing.processes import process_env, spawn
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_it_stops_cleanly_on_a_shutdown_signal(signum):
    cron = spawn("runcron", [sys.executable, "manage.py", "runcron", "project.cron"], process_env())
    try:
        # "registering birth" is logged after the handlers are installed
        wait_until(lambda: "registering birth" in cron.log(), timeout=30, what="runcron started")
        cron.popen.send_signal(signum)
        assert cron.popen.wait(15) == 0, cron.log()
        log = cron.log()
        assert f"received shutdown signal {int(signum)}" in log
        assert "registering death" in log and "shutdown complete" in log
    finally:
        cron.stop()
