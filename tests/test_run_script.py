"""`make run` (scripts/run.sh) fails loudly instead of pretending: it never uses a Redis that
was already on its port, and never says "Serving" when /healthz did not answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess

import pytest
import requests

from realtime.client import RealtimeClient
from testing import BASE_DIR
from testing.make_run import ctrl_c, leftover_processes, read_until
from tools import embedded_redis


def start_script(tmp_path, *, stderr: int = subprocess.PIPE, **env: str) -> subprocess.Popen:
    """`scripts/run.sh` in a session of its own (as a terminal's process group), on a fresh SQLite
    database and free ports, with none of the suite's Django, Redis or database settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_", "DATABASE_"))}
    environ.update(DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}", PORT=str(embedded_redis.free_port()))
    # what it chose goes to the test's own file, not the checkout's var/run.env (a developer's)
    environ.update(RUN_ENV_FILE=str(tmp_path / "run.env"))
    environ.update(env)
    return subprocess.Popen(
        ["scripts/run.sh"],
        cwd=BASE_DIR,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


def run_script(tmp_path, **env: str) -> subprocess.CompletedProcess:
    proc = start_script(tmp_path, **env)
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


# A server that takes 30 s to start (Python runs sitecustomize before daphne's own code): with a
# 2 s health deadline make run must give up, say why, and stop everything it started. (Relying on
# daphne being slower than the deadline failed on a quiet machine: it answered within 1 s.)
SLOW_DAPHNE = """
import sys, time
if any(arg.endswith("daphne") for arg in sys.orig_argv):
    time.sleep(30)  # a stuck start, not a wait on anything
"""


def test_make_run_stops_when_healthz_does_not_answer(tmp_path):
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(SLOW_DAPHNE)
    result = run_script(
        tmp_path, REDIS_PORT=str(embedded_redis.free_port()), HEALTHZ_TIMEOUT="2", WORKERS="0", PYTHONPATH=str(slow)
    )
    assert result.returncode != 0
    assert "healthz did not answer within 2s" in result.stderr, result.stderr[-2000:]
    assert "Serving" not in result.stdout


@pytest.mark.parametrize("servers, cluster", [(1, "0"), (2, "0"), (2, "1")])
def test_make_run_serves_clients_and_ctrl_c_stops_everything(tmp_path, servers, cluster):
    """The happy path, as a developer uses it: `make run` (SERVERS=2: two daphne processes behind
    nginx; CLUSTER=1: the realtime data on a private Redis Cluster) serves the demo; a WebSocket
    and a long-polling client each follow a demo job to its end; Ctrl-C (SIGINT to the terminal's
    process group) stops every process it started."""
    port = embedded_redis.free_port_block(servers + 1)  # nginx on PORT, daphne on PORT+1.. with SERVERS>1
    proc = start_script(
        tmp_path,
        stderr=subprocess.STDOUT,
        PORT=str(port),
        REDIS_PORT=str(embedded_redis.free_port()),
        SERVERS=str(servers),
        WORKERS="1",
        HEALTHZ_TIMEOUT="90",
        CLUSTER=cluster,
    )
    clients: list[RealtimeClient] = []
    try:
        output = read_until(proc, "Serving on", timeout=150)
        assert "alice  / alice-demo-pass" in output, output  # the demo logins are printed
        assert ("private Redis Cluster at" in output) == (cluster == "1"), output
        url = f"http://127.0.0.1:{port}"
        r = requests.post(
            f"{url}/api/auth/token", json={"username": "alice", "password": "alice-demo-pass"}, timeout=10
        )
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        for transports in (["websocket"], ["polling"]):
            client = RealtimeClient(url, token=token, transports=transports).connect()
            client.wait_for("connection_status", timeout=10)
            clients.append(client)
        project_id = next(
            pid for pid in range(1, 10) if clients[0].call("subscribe_project", {"project_id": pid}).get("ok")
        )
        assert clients[1].call("subscribe_project", {"project_id": project_id})["ok"] is True
        r = requests.post(
            f"{url}/api/projects/{project_id}/jobs/demo",
            json={"steps": 5, "step_seconds": 0.05},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        for client in clients:
            done = client.wait_for(
                "agent_status", lambda d: d["job_id"] == job_id and d["status"] == "success", timeout=60
            )
            assert done["status"] == "success"
            assert client.disconnects == 0
    finally:
        for client in clients:
            client.disconnect()
        ctrl_c(proc)
    with socket.socket() as s:  # and its port is free again (for a server: TIME_WAIT is free)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
