"""The README's "from a shell" lines, run as written in a second terminal (a shell with no
variables set) against a `make run` stack (issue 13): `manage.py` finds what `make run` chose in
var/run.env, so the JWT is signed with the server's secret, the diagnostic event goes to the
server's private Redis and reaches a client in `user:1`, and the demo job starts.

The stack runs in a copy of the checkout (its own var/), so the developer's var/run.env is left
alone. The one adaptation: the README's port 8000 is the test's free port."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from realtime.client import RealtimeClient
from testing import BASE_DIR
from testing.make_run import ctrl_c, read_until
from tools import embedded_redis

README_PORT = "8000"


def readme_shell_block() -> str:
    readme = (BASE_DIR / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    block = next(b for b in blocks if "manage.py issue_token" in b)
    assert "emit_test_event user:1 --n 42" in block and f"127.0.0.1:{README_PORT}" in block, block
    return block


def checkout_copy(dest) -> None:
    """The checkout's files (tracked, and new ones not ignored) as they are in the working tree, with the same venv and npm packages."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=BASE_DIR,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, tracked.decode().split("\0")):
        source, target = BASE_DIR / name, dest / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for shared in (".venv", "node_modules"):
        (dest / shared).symlink_to((BASE_DIR / shared).resolve())


def second_terminal(script: str, cwd) -> subprocess.CompletedProcess:
    """`script` in bash with no variables but PATH and HOME, as a new terminal has."""
    return subprocess.run(
        [
            "env",
            "-i",
            f"HOME={os.environ.get('HOME', '/root')}",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "bash",
            "-ec",
            script,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_shell_lines_work_in_a_second_terminal(tmp_path):
    repo = tmp_path / "checkout"
    checkout_copy(repo)
    port = embedded_redis.free_port()
    block = readme_shell_block().replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{port}")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_", "DATABASE_", "DEBUG"))}
    environ.update(PORT=str(port), REDIS_PORT=str(embedded_redis.free_port()), WORKERS="1", HEALTHZ_TIMEOUT="90")
    environ.pop("RUN_ENV_FILE", None)
    proc = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=repo,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    alice = None
    try:
        read_until(proc, "Serving on", timeout=150)
        assert (repo / "var" / "run.env").is_file()
        # alice (user 1 of the fresh demo database) listens in her user room, with the README's own token line
        token_line = next(line for line in block.splitlines() if "issue_token alice" in line)
        token = second_terminal(token_line + '\nprintf %s "$TOKEN"', repo)
        assert token.returncode == 0, token.stderr
        alice = RealtimeClient(f"http://127.0.0.1:{port}", token=token.stdout.strip()).connect()
        assert alice.wait_for("connected", timeout=15)["user_id"] == 1

        shell = second_terminal(block, repo)
        assert shell.returncode == 0, shell.stdout + shell.stderr
        assert "Traceback" not in shell.stderr, shell.stderr
        assert "sent test_event n=42 to user:1" in shell.stdout, shell.stdout
        assert "received by 1 server process(es)" in shell.stdout, shell.stdout
        assert alice.wait_for("test_event", lambda d: d["n"] == 42, timeout=15)["source"] == "command"
        assert '"job_id"' in shell.stdout, shell.stdout  # the curl line's demo job was accepted
    finally:
        if alice is not None:
            alice.disconnect()
        ctrl_c(proc)
