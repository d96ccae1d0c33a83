"""`make run` (scripts/run.sh) as the tests drive it: its output, Ctrl-C, what it left behind."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time

import pytest


def leftover_processes(session_id: int) -> list[str]:
    """The processes still in the session `scripts/run.sh` led (it must stop all it started)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    rows = [line.split(None, 3) for line in out.splitlines()]
    # a zombie has exited: only its parent (or init) has yet to collect its status
    return [" ".join(row) for row in rows if row[1] == str(session_id) and not row[2].startswith("Z")]


def read_until(proc: subprocess.Popen, marker: str, timeout: float) -> str:
    """make run's output up to the line containing `marker` (read on a thread: a pipe has no
    timeout of its own); fails with what it printed if the marker does not come in time."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            pytest.fail(f"make run did not print {marker!r} within {timeout}s:\n{''.join(seen)[-3000:]}")
        seen.append(line)
        if marker in line:
            return "".join(seen)


def ctrl_c(proc: subprocess.Popen) -> None:
    """Stop `make run` as Ctrl-C does in a terminal (SIGINT to its process group); fail if it takes
    longer than 60 s or leaves a process behind."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        left = leftover_processes(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"make run did not stop within 60 s of Ctrl-C; still running: {left}")
    left = leftover_processes(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"Ctrl-C left processes behind: {left}"
