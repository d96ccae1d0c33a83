"""Slow consumers (issue 12): what a client that stops reading costs the server, and the others.

Two measurements against the product as `make bench` serves it (daphne + project.asgi, DEBUG off,
its own Redis and SQLite database), each with the bound (SOCKETIO_MAX_BUFFERED_BYTES, default
1 MiB) and without it (a bound of 1 TB: what the server did before), in one run:

  non-reading   one authenticated WebSocket client with a small receive buffer (4 KiB) that never
                reads after its greeting; --offered MB of events (10 kB each) go to its room.
                Reported: the server's RSS growth (peak during the flood, and after it), whether
                the server closed the connection (and with which close code), and how long after
                the flood started.
  storm         --slow non-reading connections plus --healthy healthy clients (the Node load
                client, bench/node/load.js) in one busy room, events of --event-kb at --rate
                events/s for --seconds: the healthy clients' latency p50/p99 against the same
                round without the slow ones, and the server's RSS (peak growth against the sum
                of the bounds).

    .venv/bin/python bench/slow_consumer.py                       # both, defaults (a few minutes)
    .venv/bin/python bench/slow_consumer.py --skip storm --offered 40
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as harness  # noqa: E402  (bench/run.py: stacks, load client, process figures)
import websocket  # noqa: E402

from tools import embedded_redis  # noqa: E402

log = harness.log
MIB = 1024 * 1024
UNBOUNDED = str(10**12)  # "no bound": what the server did before issue 12

# Emits N events of SIZE bytes to ROOM at RATE events/s (0: as fast as it can, in batches of 50),
# `text` starting with the send time in ms (the load client reads it with parseFloat).
EMITTER = """
import sys, time, django
django.setup()
from realtime.emit import emit_many
room, n, size, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
pad = "x" * size
start = time.perf_counter()
sent = 0
while sent < n:
    if rate:
        due = min(n, int((time.perf_counter() - start) * rate) + 1)
        if due <= sent:
            time.sleep(min(0.002, (sent + 1) / rate - (time.perf_counter() - start)))
            continue
    else:
        due = min(n, sent + 50)
    emit_many([("test_event", {"n": i, "text": repr(time.time() * 1000) + " " + pad}, room) for i in range(sent, due)])
    sent = due
print(time.perf_counter() - start)
"""


def emit(stack: harness.Stack, room: str, events: int, size: int, rate: float) -> float:
    done = subprocess.run(
        [sys.executable, "-c", EMITTER, room, str(events), str(size), str(rate)],
        env=stack.env,
        cwd=harness.BASE,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return float(done.stdout.strip().splitlines()[-1])


class NonReader:
    """A Socket.IO client (Engine.IO 4 over a WebSocket) with a 4 KiB receive buffer that reads its
    greeting and then nothing."""

    def __init__(self, stack: harness.Stack) -> None:
        url = f"ws://127.0.0.1:{stack.port}/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(
            url, timeout=30, suppress_origin=True, sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)]
        )
        self.ws.recv()  # OPEN
        self.ws.send("40" + json.dumps({"token": stack.token}))
        while "connection_status" not in self.ws.recv():
            pass

    def outcome(self, timeout: float = 10) -> str:
        """Read everything now: how the connection ended ('close CODE REASON', 'reset', or 'open')."""
        self.ws.settimeout(timeout)
        try:
            while True:
                opcode, data = self.ws.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                    return f"close {code} {data[2:].decode()}"
                if data == b"2":
                    self.ws.send("3")
        except websocket.WebSocketTimeoutException:
            return "open"
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return "reset"

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except Exception:  # noqa: S110 (already gone)
            pass


class RssSampler:
    """The server tree's RSS every 50 ms, in a thread: the peak and the last sample."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = self.last = harness.rss_kb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.last = harness.rss_kb(self.pid)
            self.peak = max(self.peak, self.last)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def logged(stack_log: Path, what: str) -> int:
    return stack_log.read_text(errors="replace").count(what) if stack_log.exists() else 0


@dataclass
class Deployed:
    env: harness.Env
    extra: dict[str, str]

    def start(self, name: str, bound: str) -> harness.Stack:
        saved = dict(self.env.product_env)
        self.env.product_env.update(self.extra, SOCKETIO_MAX_BUFFERED_BYTES=bound)
        try:
            return harness.start_stack("ours", self.env)
        finally:
            self.env.product_env = saved


def non_reading(deployed: Deployed, offered_mb: int) -> dict[str, dict]:
    results = {}
    events = offered_mb * 100  # 10 kB each
    for label, bound in (("bound 1 MiB (default)", str(MIB)), ("no bound (before)", UNBOUNDED)):
        stack = deployed.start("ours", bound)
        try:
            client = NonReader(stack)
            time.sleep(1)  # let the server settle after the connection (no event marks it)
            rss0 = harness.rss_kb(stack.server.pid)
            sampler = RssSampler(stack.server.pid)
            started = time.monotonic()
            seconds = emit(stack, stack.emitter_room, events, 10_000, 0)  # type: ignore[attr-defined]
            cut_at = None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the log line is written when it is cut off
                if logged(deployed.env.tmp / "ours.log", "disconnect slow consumer") > 0:
                    cut_at = time.monotonic() - started
                    break
                time.sleep(0.05)
            time.sleep(1)
            sampler.stop()
            after = harness.rss_kb(stack.server.pid)
            outcome = client.outcome(timeout=5)
            client.close()
            results[label] = {
                "offered_mb": offered_mb,
                "emit_s": seconds,
                "peak_growth_mb": (sampler.peak - rss0) / 1024,
                "after_growth_mb": (after - rss0) / 1024,
                "outcome": outcome,
                "cut_after_s": cut_at,
            }
            log(f"non-reading, {label}: {results[label]}")
        finally:
            stack.stop()
            (deployed.env.tmp / "ours.log").rename(deployed.env.tmp / f"ours-nonreading-{len(results)}.log")
    return results


def storm(deployed: Deployed, opts: argparse.Namespace) -> dict[str, dict]:
    """--rounds rounds of the three cases, interleaved; the medians (and each round's p99)."""
    rounds: dict[str, list[dict]] = {}
    for _ in range(opts.rounds):
        for label, r in storm_round(deployed, opts).items():
            rounds.setdefault(label, []).append(r)
    return {
        label: {
            **{k: harness.median([r[k] for r in rs]) for k in ("p50", "p99", "peak_growth_mb")},
            "p99s": [r["p99"] for r in rs],
            "lost": max(r["lost"] for r in rs),
            "slow": rs[0]["slow"],
            "cut_off": min(r["cut_off"] for r in rs),
        }
        for label, rs in rounds.items()
    }


def storm_round(deployed: Deployed, opts: argparse.Namespace) -> dict[str, dict]:
    results = {}
    events = int(opts.rate * opts.seconds)
    size = opts.event_kb * 1000
    for label, bound, slow in (
        ("healthy only", str(MIB), 0),
        (f"+ {opts.slow} non-reading, bound 1 MiB", str(MIB), opts.slow),
        (f"+ {opts.slow} non-reading, no bound (before)", UNBOUNDED, opts.slow),
    ):
        stack = deployed.start("ours", bound)
        load = None
        slow_clients: list[NonReader] = []
        try:
            load = harness.Load(stack, deployed.env, opts.healthy, quiet_ms=3000)
            warm = max(10, int(opts.rate))
            room = stack.emitter_room  # type: ignore[attr-defined]
            load.round(warm, lambda s=stack, n=warm, r=room: emit(s, r, n, size, opts.rate))
            slow_clients = [NonReader(stack) for _ in range(slow)]
            time.sleep(1)
            rss0 = harness.rss_kb(stack.server.pid)
            sampler = RssSampler(stack.server.pid)
            r = load.round(events, lambda s=stack, r=room: emit(s, r, events, size, opts.rate))
            sampler.stop()
            cut = logged(deployed.env.tmp / "ours.log", "disconnect slow consumer")
            results[label] = {
                "p50": r["p50"],
                "p99": r["p99"],
                "lost": r["expected"] - r["delivered"],
                "peak_growth_mb": (sampler.peak - rss0) / 1024,
                "slow": slow,
                "cut_off": cut,
            }
            log(f"storm, {label}: {results[label]}")
        finally:
            for c in slow_clients:
                c.close()
            if load is not None:
                load.close()
            stack.stop()
            (deployed.env.tmp / "ours.log").rename(deployed.env.tmp / f"ours-storm-{time.monotonic_ns()}.log")
    return results


def dev_secret() -> str:
    match = re.search(r'_DEV_SECRET = "([^"]+)"', (harness.BASE / "project" / "settings.py").read_text())
    assert match, "project/settings.py has no _DEV_SECRET"
    return match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offered", type=int, default=40, help="MB of events offered to the non-reading client")
    parser.add_argument("--slow", type=int, default=200, help="non-reading connections in the storm")
    parser.add_argument("--healthy", type=int, default=100, help="healthy clients in the storm")
    parser.add_argument("--rate", type=float, default=100, help="events/s in the storm")
    parser.add_argument("--seconds", type=float, default=15, help="length of a storm round")
    parser.add_argument("--event-kb", type=int, default=4, help="event size in the storm (kB)")
    parser.add_argument("--rounds", type=int, default=3, help="storm rounds (medians reported)")
    parser.add_argument("--skip", default="", help="comma list of non-reading,storm")
    opts = parser.parse_args()
    skip = set(opts.skip.split(","))
    available = harness.cpus()
    harness.raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="rt-slow-"))
    redis_port = embedded_redis.free_port()
    redis_proc = embedded_redis.start(redis_port, tmp / "redis", persist=False)
    env = harness.Env(tmp, f"redis://127.0.0.1:{redis_port}/0", available[0], available[-1])
    started = time.monotonic()
    try:
        harness.prepare_product(env)
        # as deployed: DEBUG off (a secret of its own, the hosts it answers, no HTTPS redirect here)
        deployed = Deployed(
            env,
            {
                "DEBUG": "0",
                "SECRET_KEY": os.urandom(24).hex(),
                "JWT_SECRET": dev_secret(),  # prepare_product's token was issued under DEBUG
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "0",
                "SESSION_COOKIE_SECURE": "0",
                "CSRF_COOKIE_SECURE": "0",
            },
        )
        nonreading = non_reading(deployed, opts.offered) if "non-reading" not in skip else {}
        stormed = storm(deployed, opts) if "storm" not in skip else {}
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)
    lines = [
        f"Machine: {harness.machine()}. Server pinned to CPU {env.server_cpu}, load client to CPU {env.client_cpu}. "
        f"Took {time.monotonic() - started:.0f} s.",
        "",
        f"Command: `{' '.join([Path(sys.executable).name, 'bench/slow_consumer.py', *sys.argv[1:]])}`",
        "",
    ]
    if nonreading:
        lines += [
            f"| one non-reading client, {opts.offered} MB offered | server RSS growth, peak MB | after the flood, MB"
            " | the connection | cut off after |",
            "|---|---|---|---|---|",
        ]
        for label, r in nonreading.items():
            cut = f"{r['cut_after_s']:.2f} s" if r["cut_after_s"] is not None else "not cut off"
            lines.append(
                f"| {label} | {r['peak_growth_mb']:.1f} | {r['after_growth_mb']:.1f} | {r['outcome']} | {cut} |"
            )
        lines.append("")
    if stormed:
        lines += [
            f"| storm: {opts.healthy} healthy clients, {opts.rate:.0f} events/s of {opts.event_kb} kB, "
            f"{opts.seconds:.0f} s, medians of {opts.rounds} rounds | healthy p50 ms | healthy p99 ms | p99 vs"
            " healthy only | p99 of each round | lost | server RSS growth, peak MB | cut off |",
            "|---|---|---|---|---|---|---|---|",
        ]
        base = next(iter(stormed.values()))["p99"]
        for label, r in stormed.items():
            ratio = f"{r['p99'] / base:.2f}x" if base and r["p99"] else "-"
            lines.append(
                f"| {label} | {harness.fmt(r['p50'], '.2f')} | {harness.fmt(r['p99'], '.2f')} | {ratio} | "
                f"{', '.join(harness.fmt(p, '.1f') for p in r['p99s'])} | "
                f"{r['lost']} | {r['peak_growth_mb']:.1f} | {r['cut_off']} of {r['slow']} |"
            )
    print("\n".join(lines))
    log(f"logs in {tmp}")


if __name__ == "__main__":
    main()
