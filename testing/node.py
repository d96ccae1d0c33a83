"""Running a Node client (socket.io-client from node_modules) that reports on stdout, one JSON
object a line, while the test reacts to what it reports (starting a job when it says it is ready)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testing import BASE_DIR


def node_binary() -> str:
    node = shutil.which("node")
    assert node, "node is required for the JS client tests (make test installs the npm packages)"
    assert (BASE_DIR / "node_modules" / "socket.io-client").is_dir(), "run `npm ci` (make test does)"
    return node


def run_node(
    script: Path, env: dict[str, str], on_line: Callable[[dict[str, Any]], None] | None = None, timeout: float = 60
) -> list[dict[str, Any]]:
    return run_client([node_binary(), str(script)], {"PATH": "/usr/local/bin:/usr/bin:/bin", **env}, on_line, timeout)


def run_client(
    argv: list[str], env: dict[str, str], on_line: Callable[[dict[str, Any]], None] | None = None, timeout: float = 60
) -> list[dict[str, Any]]:
    """Run a client to its end (killed after `timeout` s); returns its JSON lines. Other lines
    (the client's own console.log) are kept for the failure message only."""
    script = Path(argv[-1])
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    lines: list[dict[str, Any]] = []
    other: list[str] = []
    try:
        for raw in proc.stdout:
            if not raw.startswith("{"):
                other.append(raw)
                continue
            line = json.loads(raw)
            lines.append(line)
            if on_line is not None:
                on_line(line)
        proc.wait(10)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert proc.returncode == 0, f"{script.name} exited {proc.returncode}:\n{''.join(other)[-2000:]}\n{stderr[-2000:]}"
    return lines
