"""`make run` (scripts/run.sh) fails loudly instead of pretending: it never uses a Redis that
was already on its port, and never says "Serving" when /healthz did not answer."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.conftest import BASE_DIR
from tools import embedded_redis


def leftover_processes(session_id: int) -> list[str]:
    """The processes still in the session `scripts/run.sh` led (it must stop all it started)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    rows = [line.split(None, 3) for line in out.splitlines()]
    # a zombie has exited: only its parent (or init) has yet to collect its status
    return [" ".join(row) for row in rows if row[1] == str(session_id) and not row[2].startswith("Z")]


def run_script(tmp_path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_", "DATABASE_"))}
    environ.update(DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}", PORT=str(embedded_redis.free_port()), **env)
    proc = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=BASE_DIR,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        left = leftover_processes(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=10)
        pytest.fail(f"make run did not stop within 120s; still running: {left}\n{stderr[-2000:]}")
    left = leftover_processes(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"make run exited but left processes behind: {left}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture
def foreign_redis(tmp_path):
    """A Redis that is not make run's, on a port make run is told to use."""
    port = embedded_redis.free_port()
    proc = embedded_redis.start(port, tmp_path / "foreign-redis", persist=False)
    yield port
    proc.terminate()
    proc.wait(10)


def test_embedded_redis_refuses_a_port_another_redis_holds(foreign_redis, tmp_path):
    with pytest.raises(RuntimeError, match="already in use"):
        embedded_redis.start(foreign_redis, tmp_path / "ours", persist=False)


def test_make_run_stops_when_its_private_redis_cannot_start(foreign_redis, tmp_path):
    result = run_script(tmp_path, REDIS_PORT=str(foreign_redis))
    assert result.returncode != 0
    assert "private Redis on port" in result.stderr and "already in use" in result.stderr, result.stderr
    assert "Serving" not in result.stdout
    assert not (tmp_path / "run.sqlite3").exists()  # it stopped before migrating


def test_make_run_stops_when_healthz_does_not_answer(tmp_path):
    # one second is less than daphne needs to import Django and answer
    result = run_script(tmp_path, REDIS_PORT=str(embedded_redis.free_port()), HEALTHZ_TIMEOUT="1", WORKERS="0")
    assert result.returncode != 0
    assert "healthz did not answer within 1s" in result.stderr, result.stderr[-2000:]
    assert "Serving" not in result.stdout
