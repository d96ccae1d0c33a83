"""docs/adopt.md, followed literally: build the wheel (sdist, then the wheel from it), a fresh
virtualenv (no system site-packages; the wheel's dependencies from the package index, through
pip's cache), `django-admin startproject`, every block of the guide applied as written (the
`<!-- adopt:... -->` comment before a block says what it is), then Redis (a server of the test's
own), daphne and an RQ worker with the guide's commands, and the guide's Node client: it receives
a tracked job's `agent_progress` and `agent_status` in the project room, is disconnected while a
second job runs, and on reconnecting is replayed that job's events.

What the test adds to the guide, and only that: the port (a free one instead of 8000), a user and
a project with a session for the client (what a login would give a browser), and a harness line in
the client that disconnects and reconnects it on command."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from testing import BASE_DIR
from testing.processes import start_own_redis
from testing.wheel import build as build_wheel
from tools import embedded_redis

GUIDE = BASE_DIR / "docs" / "adopt.md"
BLOCK = re.compile(r"<!-- adopt:(\w+)(?: ([^ ]+?))? -->\n```\w*\n(.*?)```", re.S)
STEP_TIMEOUT = 60

pytestmark = pytest.mark.timeout(420)


def guide_blocks() -> list[tuple[str, str, str]]:
    return [(kind, arg or "", body) for kind, arg, body in BLOCK.findall(GUIDE.read_text())]


def run(args: list[str] | str, cwd: Path, env: dict[str, str], *, stdin: str | None = None, timeout: int = 240) -> str:
    out = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        shell=isinstance(args, str),
    )
    assert out.returncode == 0, f"{args!r} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


class Lines:
    """A process's stdout, a line at a time, with a deadline (never a bare sleep)."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.popen.stdout:
            self.queue.put(line.rstrip("\n"))

    def until(self, predicate, what: str, timeout: float = STEP_TIMEOUT) -> list[dict]:
        """The JSON lines read until one matches `predicate` (that one included)."""
        deadline = time.monotonic() + timeout
        got: list[dict] = []
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            try:
                item = json.loads(line)
            except ValueError:
                continue
            got.append(item)
            if predicate(item):
                return got
        raise AssertionError(f"no {what} within {timeout}s; client said:\n" + "\n".join(self.seen[-40:]))


def is_status(job_id: str, status: str):
    return lambda item: (
        item.get("event") == "agent_status"
        and item["data"].get("job_id") == job_id
        and item["data"].get("status") == status
    )


def test_the_adoption_guide_works_as_written(tmp_path):
    node = shutil.which("node")
    assert node, "node is required (make test installs the npm packages)"
    blocks = guide_blocks()
    kinds = [kind for kind, _, _ in blocks]
    for needed in ("run", "write", "append", "process", "shell"):
        assert needed in kinds, f"docs/adopt.md has no <!-- adopt:{needed} --> block"

    # The wheel, as the guide's step 1 says it is built.
    wheel, _ = build_wheel(tmp_path / "dist")

    # A fresh virtualenv and an empty project directory.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, dict(os.environ))
    host = tmp_path / "host"
    host.mkdir()
    shutil.copy(wheel, host / wheel.name)
    (host / "node_modules").symlink_to(BASE_DIR / "node_modules")
    redis = start_own_redis(persist=False)
    env = {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "VIRTUAL_ENV": str(venv),
        "REDIS_URL": redis.url,
        "PYTHONUNBUFFERED": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    port = embedded_redis.free_port()
    processes: list[subprocess.Popen] = []
    client = None
    try:
        shell_block = None
        for kind, arg, body in blocks:
            if kind == "run":
                for command in body.strip().splitlines():
                    run(command, host, env)
            elif kind == "write":
                (host / arg).write_text(body)
            elif kind == "append":
                with (host / arg).open("a") as file:
                    file.write("\n" + body)
            elif kind == "process":
                command = body.strip().replace("-p 8000", f"-p {port}")
                log = (tmp_path / f"{arg}.log").open("w")
                processes.append(subprocess.Popen(shlex.split(command), cwd=host, env=env, stdout=log, stderr=log))
            elif kind == "shell":
                shell_block = body

        # What a login gives a browser: a user, their project, a session.
        session_id = (
            run(
                [str(venv / "bin" / "python"), "manage.py", "shell"],
                host,
                env,
                stdin=(
                    "from django.contrib.auth import get_user_model, login\n"
                    "from django.contrib.sessions.backends.db import SessionStore\n"
                    "from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY\n"
                    "from shop.models import Project\n"
                    "ada = get_user_model().objects.create_user('ada', password='ada-pass-1234')\n"
                    "Project.objects.create(name='Apollo').members.add(ada)\n"
                    "s = SessionStore()\n"
                    "s[SESSION_KEY] = str(ada.pk)\n"
                    "s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
                    "s[HASH_SESSION_KEY] = ada.get_session_auth_hash()\n"
                    "s.create()\n"
                    "print('SESSION', s.session_key)\n"
                ),
            )
            .split("SESSION ")[1]
            .strip()
        )
        project_id = run(
            [
                str(venv / "bin" / "python"),
                "manage.py",
                "shell",
                "-c",
                "from shop.models import Project; print(Project.objects.get().pk)",
            ],
            host,
            env,
        ).splitlines()[-1]

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
            assert all(p.poll() is None for p in processes), (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(0.2)  # polling the server's readiness, with a deadline

        contract = requests.get(f"{base}/api/realtime/asyncapi.json", timeout=10)  # the guide's URL paths
        assert contract.status_code == 200 and contract.json()["asyncapi"].startswith("3."), contract.text[:500]

        client_js = host / "client.mjs"
        client_js.write_text(
            client_js.read_text()
            + '\n// test harness: "disconnect" / "connect" on stdin\n'
            + 'import { createInterface } from "node:readline";\n'
            + 'createInterface({ input: process.stdin }).on("line", (l) => (l === "disconnect" ? socket.disconnect() : socket.connect()));\n'
        )
        client = subprocess.Popen(
            [node, str(client_js)],
            cwd=host,
            env={**env, "SERVER_URL": base, "SESSION_ID": session_id, "PROJECT_ID": project_id},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines = Lines(client)
        subscribed = lines.until(lambda item: "subscribed" in item, "subscribe ack")[-1]["subscribed"]
        assert subscribed["ok"] is True, subscribed

        python = str(venv / "bin" / "python")
        first = run([python, "manage.py", "shell"], host, env, stdin=shell_block).strip().splitlines()[-1]
        got = lines.until(is_status(first, "success"), f"agent_status success of job {first}")
        events = {item["event"] for item in got if item.get("data", {}).get("job_id") == first}
        assert events == {"agent_progress", "agent_status"}, got
        assert all(item["data"]["_meta"]["room"] == f"project:{project_id}" for item in got if "event" in item)
        last_seq = max(item["data"]["_meta"]["seq"] for item in got if "event" in item)

        # Offline while a second job runs from start to end; then back, with its positions.
        client.stdin.write("disconnect\n")
        client.stdin.flush()
        second = run([python, "manage.py", "shell"], host, env, stdin=shell_block).strip().splitlines()[-1]
        status_of = f"from jobs.models import JobRecord; print(JobRecord.objects.get(pk='{second}').status)"
        deadline = time.monotonic() + STEP_TIMEOUT
        while run([python, "manage.py", "shell", "-c", status_of], host, env).splitlines()[-1] != "success":
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
        client.stdin.write("connect\n")
        client.stdin.flush()
        replayed = lines.until(is_status(second, "success"), f"replayed agent_status success of job {second}")
        mine = [item for item in replayed if item.get("data", {}).get("job_id") == second]
        assert {item["event"] for item in mine} == {"agent_progress", "agent_status"}, replayed
        seqs = [item["data"]["_meta"]["seq"] for item in replayed if "event" in item]
        assert seqs == sorted(seqs) and seqs[0] == last_seq + 1, seqs  # nothing lost, in order
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        for popen in processes:
            if popen.poll() is None:
                popen.terminate()
        for popen in processes:
            try:
                popen.wait(10)
            except subprocess.TimeoutExpired:
                popen.kill()
        redis.stop()
