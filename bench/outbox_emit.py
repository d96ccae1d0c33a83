"""emit() inside transactions, before and after the event outbox (issue 18), and the outbox table
under a steady 1,000 events/s.

Starts a private Redis, migrates a database (a temporary SQLite file, or --database-url, e.g.
postgres://postgres@127.0.0.1:5432/bench_outbox: created if missing) and, in this process:

1. `emit` rows: N transactions, each one UPDATE (the change) and one emit(), with
   REALTIME_OUTBOX off (before: published after commit, as before issue 18) and on (after: the
   event is written in the transaction, published after commit and its row deleted). Per
   transaction latency p50/p99 and throughput.
2. `steady` row: 1,000 events/s (100 transactions/s of 10 events) for --seconds with the outbox
   on and the relay running in a thread (as in a server process: on PostgreSQL it VACUUMs the
   table every REALTIME_OUTBOX_VACUUM_SECONDS); the table's rows sampled every 0.1 s (max), and
   its size on disk every 5 s (max) and at the end (PostgreSQL).

    .venv/bin/python bench/outbox_emit.py --events 2000 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))

from tools import embedded_redis  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _ensure_postgres_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup(database_url: str | None, tmp: Path) -> None:
    redis_port = embedded_redis.free_port()
    redis_proc = embedded_redis.start(redis_port, tmp / "redis", persist=False)
    import atexit

    atexit.register(redis_proc.terminate)
    if database_url and database_url.startswith("postgres"):
        _ensure_postgres_database(database_url)
    os.environ.update(
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="project.settings",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        DATABASE_URL=database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
        REALTIME_VALIDATE_EVENTS="0",  # production's default
    )
    os.environ.pop("DATABASE_NAME_OVERRIDE", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE, check=True)
    import logging

    import django

    django.setup()
    # one log line per event would be most of what is measured (a deployment turns it down the same way)
    logging.getLogger("realtime.events").setLevel(logging.WARNING)


def run_emits(n: int, *, outbox_on: bool, user_id: int) -> tuple[list[float], float]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from realtime.emit import emit

    settings.REALTIME_OUTBOX = outbox_on
    users = get_user_model().objects
    latencies = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        with transaction.atomic():
            users.filter(pk=user_id).update(last_login=timezone.now())
            emit("test_event", {"n": i, "source": "bench"}, room=f"user:{user_id}")
        latencies.append(time.perf_counter() - t0)
    return latencies, time.perf_counter() - started


def run_steady(seconds: float, *, per_tx: int = 10, tx_per_second: int = 100) -> dict[str, float]:
    from django.conf import settings
    from django.db import connection, transaction

    from realtime import outbox
    from realtime.emit import emit_many
    from realtime.models import OutboxEvent

    settings.REALTIME_OUTBOX = True
    samples: list[int] = []
    stop = threading.Event()
    # the relay, as every server process runs it (it publishes nothing here: it VACUUMs the table)
    relay = threading.Thread(target=outbox.relay_forever, args=(stop,), daemon=True)
    relay.start()

    sizes: list[int] = []

    def sample() -> None:
        from django.db import connection as thread_connection

        tick = 0
        while not stop.wait(0.1):
            samples.append(OutboxEvent.objects.count())
            tick += 1
            if thread_connection.vendor == "postgresql" and tick % 50 == 0:  # every 5 s
                with thread_connection.cursor() as cursor:
                    cursor.execute("SELECT pg_total_relation_size(%s)", [OutboxEvent._meta.db_table])
                    sizes.append(cursor.fetchone()[0])
        thread_connection.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    start, sent, behind = time.perf_counter(), 0, 0.0
    for i in range(int(seconds * tx_per_second)):
        wait = start + i / tx_per_second - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        else:
            behind = max(behind, -wait)
        with transaction.atomic():
            emit_many([("test_event", {"n": sent + k, "source": "bench"}, f"user:{k % 50 + 1}") for k in range(per_tx)])
        sent += per_tx
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    relay.join(10)
    size = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size(%s)", [OutboxEvent._meta.db_table])
            size = cursor.fetchone()[0]
    return {
        "events": sent,
        "rate": sent / elapsed,
        "max_rows": max(samples or [0]),
        "end_rows": OutboxEvent.objects.count(),
        "size_kb": size / 1024 if size is not None else float("nan"),
        "max_size_kb": max(sizes) / 1024 if sizes else float("nan"),
        "behind_ms": behind * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default=None)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rt-bench-outbox-"))
    setup(opts.database_url, tmp)

    from django.contrib.auth import get_user_model
    from django.db import connection

    user, _ = get_user_model().objects.get_or_create(username="bench-outbox")
    run_emits(200, outbox_on=True, user_id=user.pk)  # warm up: connections, scripts, caches
    # Interleaved rounds, so a change of the machine's load during the run hits both alike.
    measured: dict[bool, tuple[list[float], float]] = {False: ([], 0.0), True: ([], 0.0)}
    rounds = 10
    for _ in range(rounds):
        for on in (False, True):
            latencies, total = run_emits(opts.events // rounds, outbox_on=on, user_id=user.pk)
            measured[on] = (measured[on][0] + latencies, measured[on][1] + total)
    rows = []
    for label, on in (("before (no outbox)", False), ("after (outbox)", True)):
        latencies, total = measured[on]
        rows.append((label, len(latencies), pct(latencies, 50) * 1e3, pct(latencies, 99) * 1e3, len(latencies) / total))
    print(
        f"database: {connection.vendor}; one UPDATE + one emit() per transaction, sequential, one process, "
        f"{rounds} interleaved rounds"
    )
    print(f"{'emit in a transaction':<22} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'tx/s':>8}")
    for label, n, p50, p99, rate in rows:
        print(f"{label:<22} {n:>6} {p50:>8.3f} {p99:>8.3f} {rate:>8.0f}")
    steady = run_steady(opts.seconds)
    print()
    print(
        f"{'steady, outbox on':<22} {'events':>7} {'ev/s':>7} {'max rows':>9} {'end rows':>9} {'max KB':>7} {'end KB':>7}"
    )
    print(
        f"{'100 tx/s x 10 events':<22} {steady['events']:>7} {steady['rate']:>7.0f} {steady['max_rows']:>9} "
        f"{steady['end_rows']:>9} {steady['max_size_kb']:>7.0f} {steady['size_kb']:>7.0f}"
        f"   (most behind schedule: {steady['behind_ms']:.0f} ms; sizes on PostgreSQL, sampled every 5 s)"
    )


if __name__ == "__main__":
    main()
