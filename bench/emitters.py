"""The Python stacks' canonical emitters, each run as its own process by bench/run.py.

    python bench/emitters.py product|product-single|socketio|flask REDIS_URL EVENTS RATE [ROOM]

- product: our `realtime.emit` (the Lua publish script: sequence number, replay log, pub/sub) to
  ROOM, as an RQ job would call it, sending bursts with `emit_many()` the way Node's emitter
  pipelines its PUBLISHes: BENCH_EMIT_BATCH events (100) per call at RATE 0, and at a fixed rate
  one `emit()` per event when on schedule, the events that are due together when behind it.
  Needs DJANGO_SETTINGS_MODULE and the stack's env.
- product-single: the same with one `emit()` per event always (one round trip each).
- socketio: python-socketio's write-only `RedisManager` (what a bare python-socketio app uses).
- flask: Flask-SocketIO's `SocketIO(message_queue=...)` external emitter (seed 003's stack).

RATE is events per second (0: as fast as possible). Every stack's emitter sends the same
application payload, `{n, text}` with `text` the send time in ms since the epoch (a string: the
product's `test_event` has no numeric field for it; in a batch, the time each event was queued);
the product adds its `_meta {room, seq, epoch}` (what replay needs), the others nothing."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

Sender = Callable[[int], None]
ManySender = Callable[[range], None]


def product(redis_url: str, room: str, *, batched: bool = True) -> tuple[Sender, ManySender | None]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from realtime.emit import emit, emit_many

    def send(n: int) -> None:
        emit("test_event", {"n": n, "text": repr(time.time() * 1000)}, room=room)

    def send_many(ns: range) -> None:
        emit_many([("test_event", {"n": n, "text": repr(time.time() * 1000)}, room) for n in ns])

    return send, send_many if batched else None


def bare_socketio(redis_url: str, room: str) -> tuple[Sender, None]:
    import socketio

    manager = socketio.RedisManager(redis_url, channel="bench-socketio", write_only=True)

    def send(n: int) -> None:
        manager.emit("bench", {"n": n, "text": repr(time.time() * 1000)}, room=room, namespace="/")

    return send, None


def flask_socketio(redis_url: str, room: str) -> tuple[Sender, None]:
    from flask_socketio import SocketIO

    sio = SocketIO(message_queue=redis_url, channel="bench-flask")

    def send(n: int) -> None:
        sio.emit("bench", {"n": n, "text": repr(time.time() * 1000)}, to=room, namespace="/")

    return send, None


KINDS = {
    "product": product,
    "product-single": lambda url, room: product(url, room, batched=False),
    "socketio": bare_socketio,
    "flask": flask_socketio,
}


def main() -> None:
    kind, redis_url, events, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    room = sys.argv[5] if len(sys.argv) > 5 else "bench"
    send, send_many = KINDS[kind](redis_url, room)
    burst = int(os.environ.get("BENCH_EMIT_BATCH", "100"))
    start = time.perf_counter()
    cpu = time.process_time()
    n = 0
    while n < events:
        if rate > 0:
            # Sleep until the event is due, never spin: on a 2-core machine a spinning emitter
            # takes a core from the server or the load client and inflates every stack's latency.
            # An oversleep is caught up by sending what is due at once (the rate is kept): with
            # send_many in one call, otherwise one by one.
            wait = start + n / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            due = min(events, int((time.perf_counter() - start) * rate) + 1)
        else:
            due = min(events, n + burst)
        if send_many is not None and due - n > 1:
            send_many(range(n, due))
            n = due
        else:
            send(n)
            n += 1
    # What the sending took (start-up excluded), for the harness's table: as emitter.js prints it.
    elapsed, cpu = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
    print(json.dumps({"events": events, "elapsed_ms": elapsed, "cpu_ms": cpu}), flush=True)


if __name__ == "__main__":
    main()
