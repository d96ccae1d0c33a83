"""Fan-in cost of several server processes (issue 11): what a server process pays for events of
rooms it has no member in, today's single pub/sub channel against per-room channels.

For each source tree (`ours`: this checkout, per-room channels; `before`: the commit this branch
started from, one channel for every event) and each number of server processes N, on a private
Redis (and, with --redis cluster, on a private Redis Cluster of 3 masters):
  * spread: N daphne processes, one client per process, each in a room of its own (its user
    room); EVENTS events round-robin over the N rooms from an emitter process (emit_many). Per
    process: pub/sub messages received and CPU seconds, both per 100,000 events sent.
  * idle (N=2 only, the measurement of the issue): one client on process B, nobody on process A,
    EVENTS events to the client's room. A's CPU as a share of B's.
CPU is utime+stime of each daphne process (/proc) from before the emitter starts until every
process's `events_received` counter stopped moving, less the process's background CPU rate (its
ops loops) measured over a quiet window just before, times the window.

    .venv/bin/python bench/fanin.py                          # 2 and 4 processes, 20,000 events
    .venv/bin/python bench/fanin.py --servers 2 --events 20000 --trees ours,before --redis single,cluster
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
sys.path.insert(0, str(BASE / "bench"))

from run import cpu_ms, log, machine, wait_http  # noqa: E402

from tools import embedded_redis  # noqa: E402

PY = sys.executable
PROCESS_INTERVAL = "1"  # the servers publish their counters this often (ops:proc:*)
QUIET_SECONDS = 3  # each process's background CPU (ops loops) is measured over this long, then subtracted

SETUP = """
import json, sys, time, django
django.setup()
from django.contrib.auth import get_user_model
from accounts.models import Profile, Tenant
from accounts.tokens import issue_jwt
out = []
for i in range(int(sys.argv[1])):
    t = Tenant.objects.create(name=f"Bench {i}", slug=f"bench-{i}")
    u = get_user_model().objects.create_user(f"bench{i}", f"bench{i}@example.com", "password")
    Profile.objects.create(user=u, tenant=t)
    out.append({"room": f"user:{u.pk}", "token": issue_jwt(user=u)})
print(json.dumps(out))
"""

EMITTER = """
import json, sys, time, django
django.setup()
from realtime.emit import emit_many
rooms, total = sys.argv[1].split(","), int(sys.argv[2])
events = [("test_event", {"n": i // len(rooms) + 1, "source": "bench"}, rooms[i % len(rooms)]) for i in range(total)]
t0 = time.perf_counter()
for start in range(0, total, 500):
    emit_many(events[start : start + 500], on_commit=False)
print(json.dumps({"elapsed_s": time.perf_counter() - t0}))
"""


@dataclass
class Tree:
    name: str
    path: Path


def export_tree(ref: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=BASE, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def base_ref() -> str:
    return subprocess.run(
        ["git", "merge-base", "HEAD", "main"], cwd=BASE, check=True, capture_output=True, text=True
    ).stdout.strip()


class Stack:
    """N daphne processes of one tree on one Redis (or cluster), with a client per process."""

    def __init__(self, tree: Tree, tmp: Path, n: int, redis_env: dict[str, str], counters_url: str) -> None:
        self.tree, self.n, self.counters_url = tree, n, counters_url
        self.cluster = redis_env.get("REALTIME_REDIS_CLUSTER") == "1"
        db = tmp / f"{tree.name}-{n}-{len(list(tmp.glob('*.sqlite3')))}.sqlite3"  # one per stack
        self.env = dict(
            os.environ,
            DEBUG="1",
            DATABASE_URL=f"sqlite:///{db}",
            DJANGO_SETTINGS_MODULE="project.settings",
            REALTIME_VALIDATE_EVENTS="0",
            LOG_LEVEL="WARNING",
            JWT_TTL_SECONDS="86400",
            OPS_PROCESS_INTERVAL_SECONDS=PROCESS_INTERVAL,
            PYTHONPATH=str(tree.path),
            **redis_env,
        )
        self.env.pop("DATABASE_NAME_OVERRIDE", None)
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=tree.path, env=self.env, check=True)
        out = subprocess.run(
            [PY, "-c", SETUP, str(n)], cwd=tree.path, env=self.env, check=True, capture_output=True, text=True
        )
        self.users = json.loads(out.stdout.strip().splitlines()[-1])
        self.ports = [embedded_redis.free_port() for _ in range(n)]
        origins = ",".join(f"http://127.0.0.1:{p}" for p in self.ports)
        self.procs: list[subprocess.Popen] = []
        for port in self.ports:
            argv = [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"]
            logf = open(tmp / f"{tree.name}-{n}-{port}.log", "ab")  # noqa: SIM115 (lives with the process)
            env = dict(self.env, SOCKETIO_ALLOWED_ORIGINS=origins)
            self.procs.append(subprocess.Popen(argv, cwd=tree.path, env=env, stdout=logf, stderr=logf))
        for port, proc in zip(self.ports, self.procs, strict=True):
            wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        self.clients: list = []

    def connect(self, which: list[int]) -> None:
        from realtime.client import RealtimeClient

        for client in self.clients:
            client.disconnect()
        self.clients = []
        for i in which:
            client = RealtimeClient(f"http://127.0.0.1:{self.ports[i]}", token=self.users[i]["token"])
            client.connect()
            client.wait_for("connected", timeout=30)
            self.clients.append(client)

    def counters(self) -> dict[int, dict]:
        """pid -> the process's last published counters, each fresher than the call."""
        import redis

        conn = (redis.RedisCluster if self.cluster else redis.Redis).from_url(self.counters_url)
        pids, since = {p.pid for p in self.procs}, time.time()
        deadline = time.monotonic() + 15
        while True:
            snaps = [json.loads(conn.get(k) or b"{}") for k in conn.scan_iter("ops:proc:*")]
            snaps = {int(s["process"].rsplit(":", 1)[1]): s for s in snaps if s}
            if all(pid in snaps and snaps[pid]["updated_at"] > since for pid in pids):
                return {pid: snaps[pid]["counters"] for pid in pids}
            if time.monotonic() > deadline:
                raise RuntimeError("the server processes did not publish their counters")
            time.sleep(float(PROCESS_INTERVAL) / 4)  # they publish on their own clock: poll

    def emit(self, rooms: list[str], total: int) -> float:
        out = subprocess.run(
            [PY, "-c", EMITTER, ",".join(rooms), str(total)],
            cwd=self.tree.path,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])["elapsed_s"]

    def round(self, rooms: list[str], total: int) -> dict:
        """Send `total` events over `rooms`; per process: CPU ms (less its background rate, measured
        over QUIET_SECONDS before) and events received. The CPU window ends when every process's
        `events_received` stopped moving (server side); the clients are checked after it."""
        expected = [sum(1 for i in range(total) if rooms[i % len(rooms)] == self.room_of(c)) for c in self.clients]
        base = [len(c.received("test_event")) for c in self.clients]
        quiet0 = {p.pid: cpu_ms(p.pid) for p in self.procs}
        t0 = time.monotonic()
        time.sleep(QUIET_SECONDS)  # the quiet window itself
        background = {p.pid: (cpu_ms(p.pid) - quiet0[p.pid]) / (time.monotonic() - t0) for p in self.procs}
        before = self.counters()
        cpu0 = {p.pid: cpu_ms(p.pid) for p in self.procs}
        t0 = time.monotonic()
        elapsed = self.emit(rooms, total)
        after, settled = self.counters(), None
        while settled != after:  # every process has read what it was sent
            settled, after = after, self.counters()
        window = time.monotonic() - t0
        raw = {p.pid: cpu_ms(p.pid) - cpu0[p.pid] for p in self.procs}
        cpu = {pid: max(raw[pid] - background[pid] * window, 0.0) for pid in raw}
        got = []
        for client, want, had in zip(self.clients, expected, base, strict=True):
            try:
                client.wait_until(lambda c=client, w=want + had: len(c.received("test_event")) >= w, timeout=30)
            except AssertionError:
                log(f"a client got {len(client.received('test_event')) - had} of {want} events")
            got.append((len(client.received("test_event")) - had, want))
        received = {pid: after[pid].get("events_received", 0) - before[pid].get("events_received", 0) for pid in after}
        return {
            "elapsed_s": elapsed,
            "cpu_ms": cpu,
            "raw_cpu_ms": raw,
            "window_s": window,
            "received": received,
            "delivered": got,
            "background_ms_s": background,
        }

    def room_of(self, client) -> str:
        return self.users[self.ports.index(int(client.url.rsplit(":", 1)[1]))]["room"]

    def stop(self) -> None:
        for client in self.clients:
            client.disconnect()
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def per_100k(value: float, total: int) -> float:
    return value * 100_000 / total


def spread(stack: Stack, events: int) -> dict:
    stack.connect(list(range(stack.n)))
    rooms = [u["room"] for u in stack.users]
    stack.round(rooms, 50 * stack.n)  # warm-up
    r = stack.round(rooms, events)
    pids = [p.pid for p in stack.procs]
    return {
        "received_100k": [per_100k(r["received"][pid], events) for pid in pids],
        "cpu_s_100k": [per_100k(r["cpu_ms"][pid], events) / 1000 for pid in pids],
        "emit_rate": events / r["elapsed_s"],
        "delivered": sum(g for g, _ in r["delivered"]),
    }


def idle(stack: Stack, events: int) -> dict:
    stack.connect([1])
    rooms = [stack.users[1]["room"]]
    stack.round(rooms, 100)  # warm-up
    r = stack.round(rooms, events)
    a, b = (p.pid for p in stack.procs[:2])
    return {
        "cpu_s_a": r["cpu_ms"][a] / 1000,
        "raw_s_a": r["raw_cpu_ms"][a] / 1000,
        "window_s": r["window_s"],
        "cpu_s_b": r["cpu_ms"][b] / 1000,
        "received_a": r["received"][a],
        "received_b": r["received"][b],
        "ratio": r["cpu_ms"][a] / r["cpu_ms"][b] if r["cpu_ms"][b] else None,
        "delivered": r["delivered"][0],
        "background_a": r["background_ms_s"][a],
    }


# --- Redis: single or cluster ---------------------------------------------------------------------------


class SingleRedis:
    name = "single Redis"

    def __init__(self, tmp: Path) -> None:
        self.port = embedded_redis.free_port()
        self.proc = embedded_redis.start(self.port, tmp / f"redis-{self.port}", persist=False)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url}

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class ClusterRedis:
    name = "Redis Cluster (3 masters)"

    def __init__(self, tmp: Path) -> None:
        from tools import redis_cluster

        self.single = SingleRedis(tmp)  # RQ, the Channels layer, and nothing realtime
        self.cluster = redis_cluster.start(tmp / "cluster", masters=3, replicas=0)
        self.url = self.cluster.url

    def env(self) -> dict[str, str]:
        return {**self.single.env(), "REALTIME_REDIS_URL": self.cluster.url, "REALTIME_REDIS_CLUSTER": "1"}

    def flush(self) -> None:
        self.single.flush()
        self.cluster.flushall()

    def stop(self) -> None:
        self.cluster.stop()
        self.single.stop()


def fmt(values: list[float], spec: str) -> str:
    return " / ".join(format(v, spec) for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="2,4", help="numbers of server processes (comma-separated)")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--trees", default="ours,before", help="ours (this checkout), before (--before-ref)")
    parser.add_argument("--before-ref", default="", help="git ref of the single-channel code (default: merge-base)")
    parser.add_argument("--redis", default="single", help="single, cluster (comma-separated)")
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fanin-"))
    trees = []
    for name in args.trees.split(","):
        if name == "ours":
            trees.append(Tree("ours", BASE))
        elif name == "before":
            ref = args.before_ref or base_ref()
            trees.append(Tree(f"before ({ref[:8]})", export_tree(ref, tmp / "before")))
        else:
            raise SystemExit(f"unknown tree {name!r}")
    counts = [int(n) for n in args.servers.split(",")]
    rows, idle_rows = [], []
    try:
        for kind in args.redis.split(","):
            for tree in trees:
                if kind == "cluster" and tree.name != "ours":
                    continue  # the single-channel code has no cluster support
                for n in counts:
                    redis_ = SingleRedis(tmp) if kind == "single" else ClusterRedis(tmp)
                    counters_url = redis_.url  # ops:proc:* keys live with the realtime data
                    log(f"{tree.name}, {n} servers, {redis_.name}")
                    stack = Stack(tree, tmp, n, redis_.env(), counters_url)
                    try:
                        rows.append((tree.name, redis_.name, n, spread(stack, args.events)))
                        if n == 2:
                            idle_rows.append((tree.name, redis_.name, idle(stack, args.events)))
                    finally:
                        stack.stop()
                        redis_.stop()
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        f"Machine: {machine()}",
        f"Command: `.venv/bin/python bench/fanin.py {' '.join(sys.argv[1:])}`".replace("  ", " "),
        "",
        f"Spread: one client per server process, each in its own room, {args.events:,} events round-robin over "
        "the rooms (each process's share: 1/N). Per process (A / B / ...):",
        "",
        "| code | Redis | processes | pub/sub messages received per 100k sent | CPU s per 100k sent "
        "| emit rate/s | delivered |",
        "|---|---|---:|---|---|---:|---:|",
    ]
    for tree, kind, n, r in rows:
        lines.append(
            f"| {tree} | {kind} | {n} | {fmt(r['received_100k'], ',.0f')} | {fmt(r['cpu_s_100k'], '.2f')} "
            f"| {r['emit_rate']:,.0f} | {r['delivered']:,} |"
        )
    lines += [
        "",
        f"Idle: two processes, one client on B, nobody on A, {args.events:,} events to the client's room "
        "(CPU less each process's background rate, measured over a quiet window just before: A's in the last column):",
        "",
        "| code | Redis | A: CPU s | B: CPU s | A's CPU / B's | A: messages received | B: messages received "
        "| delivered | A's background CPU ms/s | A: CPU s before subtracting (window s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tree, kind, r in idle_rows:
        ratio = f"{r['ratio'] * 100:.1f} %" if r["ratio"] is not None else "n/a"
        lines.append(
            f"| {tree} | {kind} | {r['cpu_s_a']:.2f} | {r['cpu_s_b']:.2f} | {ratio} "
            f"| {r['received_a']:,} | {r['received_b']:,} | {r['delivered'][0]:,} of {r['delivered'][1]:,} "
            f"| {r['background_a']:.1f} | {r['raw_s_a']:.2f} ({r['window_s']:.1f}) |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
