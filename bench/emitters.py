"""The Python stacks' canonical emitters, each run as its own process by bench/run.py.

    python bench/emitters.py product|socketio|flask REDIS_URL EVENTS RATE [ROOM]

- product: our `realtime.emit.emit()` (the Lua publish script: sequence number, replay log,
  pub/sub) to ROOM, as an RQ job would call it. Needs DJANGO_SETTINGS_MODULE and the stack's env.
- socketio: python-socketio's write-only `RedisManager` (what a bare python-socketio app uses).
- flask: Flask-SocketIO's `SocketIO(message_queue=...)` external emitter (seed 003's stack).

RATE is events per second (0: as fast as possible). Every stack's emitter sends the same
application payload, `{n, text}` with `text` the send time in ms since the epoch (a string: the
product's `test_event` has no numeric field for it); the product adds its `_meta {room, seq,
epoch}` (what replay needs), the others nothing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path


def product(redis_url: str, room: str) -> Callable[[int], None]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from realtime.emit import emit

    def send(n: int) -> None:
        emit("test_event", {"n": n, "text": repr(time.time() * 1000)}, room=room)

    return send


def bare_socketio(redis_url: str, room: str) -> Callable[[int], None]:
    import socketio

    manager = socketio.RedisManager(redis_url, channel="bench-socketio", write_only=True)

    def send(n: int) -> None:
        manager.emit("bench", {"n": n, "text": repr(time.time() * 1000)}, room=room, namespace="/")

    return send


def flask_socketio(redis_url: str, room: str) -> Callable[[int], None]:
    from flask_socketio import SocketIO

    sio = SocketIO(message_queue=redis_url, channel="bench-flask")

    def send(n: int) -> None:
        sio.emit("bench", {"n": n, "text": repr(time.time() * 1000)}, to=room, namespace="/")

    return send


KINDS = {"product": product, "socketio": bare_socketio, "flask": flask_socketio}


def main() -> None:
    kind, redis_url, events, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    room = sys.argv[5] if len(sys.argv) > 5 else "bench"
    send = KINDS[kind](redis_url, room)
    start = time.perf_counter()
    cpu = time.process_time()
    for n in range(events):
        if rate > 0:
            # Sleep until the event is due, never spin: on a 2-core machine a spinning emitter
            # takes a core from the server or the load client and inflates every stack's latency.
            # An oversleep is caught up by sending what is due at once (the rate is kept).
            wait = start + n / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        send(n)
    # What the sending took (start-up excluded), for the harness's table: as emitter.js prints it.
    elapsed, cpu = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
    print(json.dumps({"events": events, "elapsed_ms": elapsed, "cpu_ms": cpu}), flush=True)


if __name__ == "__main__":
    main()
