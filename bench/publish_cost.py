"""Redis CPU per published event (issue 11, for the sizing in docs/scaling.md): 100,000 events over
1,000 rooms from one emitter (emit_many, batches of 500) into a private Redis with no subscriber.
Prints the emitter's rate and redis-server's CPU per event, hence events/s per fully busy Redis core;
then the replay log's memory per entry: 2,000 more events of the same payload to one room (the log
keeps REPLAY_LOG_MAXLEN of them, `MAXLEN ~`), read with `MEMORY USAGE`.

    .venv/bin/python bench/publish_cost.py
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
sys.path.insert(0, str(BASE / "bench"))

from run import cpu_ms  # noqa: E402

from tools import embedded_redis  # noqa: E402

EVENTS, ROOMS, BATCH = 100_000, 1_000, 500


def main() -> None:
    port = embedded_redis.free_port()
    proc = embedded_redis.start(port, Path(tempfile.mkdtemp(prefix="publish-cost-")), persist=False)
    try:
        os.environ.update(
            REDIS_URL=f"redis://127.0.0.1:{port}/0",
            DEBUG="1",
            DJANGO_SETTINGS_MODULE="project.settings",
            LOG_LEVEL="WARNING",
            REALTIME_VALIDATE_EVENTS="0",
        )
        import django

        django.setup()
        logging.getLogger("realtime.events").setLevel(logging.WARNING)
        from realtime.emit import emit_many

        rooms = [f"project:{i}" for i in range(ROOMS)]
        payload = {"source": "job", "text": "progress 42%"}
        events = [("test_event", {"n": i, **payload}, rooms[i % ROOMS]) for i in range(EVENTS)]
        cpu0, t0 = cpu_ms(proc.pid), time.perf_counter()
        for start in range(0, EVENTS, BATCH):
            emit_many(events[start : start + BATCH], on_commit=False)
        elapsed, cpu = time.perf_counter() - t0, cpu_ms(proc.pid) - cpu0
        print(
            f"{EVENTS:,} events over {ROOMS:,} rooms: {elapsed:.1f} s, {EVENTS / elapsed:,.0f} events/s from one "
            f"emitter; redis-server CPU {cpu / 1000:.2f} s = {cpu * 1000 / EVENTS:.1f} us/event, "
            f"{EVENTS / (cpu / 1000):,.0f} events/s per fully busy Redis core"
        )
        from realtime import eventlog
        from realtime.redis import sync_client

        emit_many([("test_event", {"n": i, **payload}, "project:log-size") for i in range(2000)], on_commit=False)
        key = eventlog.log_key("/", "project:log-size")
        entries, size = sync_client().xlen(key), sync_client().memory_usage(key, samples=0)
        print(f"replay log of one room: {entries:,} entries, {size:,} bytes = {size / entries:.0f} bytes per entry")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
