"""Worker-emit -> client latency on the product stack (issue 2's measurement).

Starts a private Redis and daphne serving project.asgi (as `make run` does), connects one
python-socketio client as a demo user, and runs an emitter in a separate process that calls
realtime.emit.emit() at a fixed rate, stamping each event with its send time. Prints p50/p99/p999.

    .venv/bin/python bench/worker_emit_latency.py --events 500 --rate 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))

from tools import embedded_redis  # noqa: E402

EMITTER = """
import os, sys, time, django
sys.path.insert(0, {base!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()
from realtime.emit import emit
n, rate, room = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
start = time.perf_counter()
for i in range(n):
    wait = start + i / rate - time.perf_counter()
    if wait > 0:
        time.sleep(wait)  # never spin: a spinning emitter takes a core from the server
    emit("test_event", {{"n": i, "text": repr(time.time()), "source": "bench"}}, room=room)
"""


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    opts = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rt-bench-"))
    redis_port, http_port = embedded_redis.free_port(), embedded_redis.free_port()
    redis_proc = embedded_redis.start(redis_port, tmp / "redis", persist=False)
    env = dict(
        os.environ,
        DEBUG="1",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        SOCKETIO_ALLOWED_ORIGINS=f"http://127.0.0.1:{http_port}",
        REALTIME_VALIDATE_EVENTS="0",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="project.settings",
    )
    os.environ.update(env)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=BASE, env=env, check=True)
    subprocess.run([py, "manage.py", "seed_demo"], cwd=BASE, env=env, check=True, capture_output=True)
    token = subprocess.run(
        [py, "manage.py", "issue_token", "alice"], cwd=BASE, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    server = subprocess.Popen(
        [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(http_port), "project.asgi:application"],
        cwd=BASE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import django

        django.setup()
        from realtime.client import RealtimeClient

        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                client = RealtimeClient(url, token=token, transports=["websocket"]).connect()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        hello = client.wait_for("connected")
        latencies: list[float] = []
        done = threading.Event()

        def on_event(data: dict) -> None:
            latencies.append((time.time() - float(data["text"])) * 1000)
            if len(latencies) >= opts.events:
                done.set()

        client.on("test_event", on_event)
        room = f"user:{hello['user_id']}"
        subprocess.run(
            [py, "-c", EMITTER.format(base=str(BASE)), str(opts.events), str(opts.rate), room],
            cwd=BASE,
            env=env,
            check=True,
        )
        if not done.wait(30):
            print(f"only {len(latencies)} of {opts.events} events arrived", file=sys.stderr)
        client.disconnect()
    finally:
        server.terminate()
        server.wait(10)
        redis_proc.terminate()

    print(f"worker-emit -> client latency, product stack (daphne), {len(latencies)} events at {opts.rate:.0f}/s")
    print("| events | rate/s | p50 ms | p99 ms | p999 ms | max ms | mean ms |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {len(latencies)} | {opts.rate:.0f} | {pct(latencies, 50):.2f} | {pct(latencies, 99):.2f} | "
        f"{pct(latencies, 99.9):.2f} | {max(latencies):.2f} | {statistics.mean(latencies):.2f} |"
    )


if __name__ == "__main__":
    main()
