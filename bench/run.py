"""`make bench`: Socket.IO stacks side by side, one command, one table (issue 6).

Stacks, each with its canonical emitter in a separate process, all in the same run:
  ours        the product as `make run` serves it: daphne + project.asgi, emit() from a process
  ours-before the same with REALTIME_FASTPATH=0 (python-socketio's own delivery path)
  ours-single (optional) ours with one emit() per event (no emit_many() bursts) from the emitter
  socketio    bare python-socketio AsyncServer + AsyncRedisManager on uvicorn
  node        Node Socket.IO v4 + @socket.io/redis-adapter, @socket.io/redis-emitter
  flask       Flask-SocketIO, async_mode="threading" (seed 003), Redis message queue
  ours@REF    with --baseline REF: ours as it was at git REF (a temporary worktree), for a
              before/after in one run
Optional (--stacks): ours-single (above), ours-uvloop (daphne on uvloop: python -m realtime.serve), ours-uvicorn
(project.asgi on uvicorn + uvloop).

The load client is one Node program (bench/node/load.js, socket.io-client, WebSocket transport),
pinned with taskset to a different core from the server. Figures (medians of --runs runs):
fan-out deliveries/s to N clients in one room (from the first send to the last delivery, and over
the delivery phase alone: first delivery to last), worker-emit -> client latency at a fixed rate,
idle connections held and RSS per connection, progress-tracker overhead for 10,000 reports.
Every figure is also given as a ratio to Node's.

    .venv/bin/python bench/run.py                    # default: a few minutes
    .venv/bin/python bench/run.py --runs 5 --events 1000 --events-large 300 --idle 10000 --out /tmp/bench.md
    .venv/bin/python bench/run.py --stacks ours,node --skip idle,progress
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
BENCH = BASE / "bench"
NODE_DIR = BENCH / "node"
sys.path.insert(0, str(BASE))

from tools import embedded_redis  # noqa: E402

PY = sys.executable
ALL_STACKS = ["ours", "ours-before", "socketio", "node", "flask"]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- setup -----------------------------------------------------------------------------------------


def ensure_dependencies() -> None:
    """bench/requirements.txt into the venv and bench/node's packages, when missing."""
    try:
        import flask_socketio  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        log("installing bench/requirements.txt into the venv")
        subprocess.run([PY, "-m", "pip", "install", "-q", "-r", str(BENCH / "requirements.txt")], check=True)
    if not (NODE_DIR / "node_modules" / "socket.io").is_dir():
        log("npm ci in bench/node")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    node = subprocess.run(["node", "-v"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores ({model or platform.processor()}), {mem_gb:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, Node {node}; load average at start {load[0]:.2f}"
    )


def pinned(cpu: int | None, args: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *args] if cpu is not None and shutil.which("taskset") else args


def rss_kb(pid: int) -> int:
    """RSS of a process and its descendants (uvicorn/daphne are one process; npm is not used)."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except (OSError, ValueError):
            pass
    return total


CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree_pids(pid: int) -> list[int]:
    """A process and its live descendants (children of every thread)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            pass
    return found


def cpu_ms(pid: int) -> float:
    """utime + stime of a process tree, in ms (all threads; /proc/PID/stat fields 14 and 15)."""
    ticks = 0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return ticks * 1000 / CLK_TCK


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)  # polling a starting process: nothing to wait on
    raise RuntimeError(f"no answer from {url} in {timeout}s")


# --- stacks ----------------------------------------------------------------------------------------


@dataclass
class Stack:
    name: str
    server: subprocess.Popen
    port: int
    path: str
    emitter: list[str]  # argv prefix; EVENTS RATE follow
    env: dict[str, str]
    token: str = ""
    ready_event: str = "ready"
    event: str = "bench"
    system_cpu: int | None = None  # where the emitter runs (--system-cpu)
    emitter_log: Path | None = None  # the emitter's stderr (ours logs every event at INFO)

    def stop(self) -> None:
        if self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(5)


@dataclass
class Env:
    tmp: Path
    redis_url: str
    server_cpu: int | None
    client_cpu: int | None
    system_cpu: int | None = None  # Redis and the emitters (None: unpinned)
    product_env: dict[str, str] = field(default_factory=dict)
    alice_token: str = ""
    alice_room: str = ""
    client_profile: Path | None = None
    redis_pid: int | None = None
    trees: dict[str, Path] = field(default_factory=dict)  # stack name -> source tree (--baseline)


def baseline_tree(ref: str, tmp: Path) -> Path:
    """A detached git worktree of `ref`, sharing this checkout's .venv (removed at the end)."""
    tree = tmp / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=BASE, check=True, capture_output=True)
    return tree


def prepare_product(env: Env) -> None:
    db = env.tmp / "db.sqlite3"
    env.product_env = dict(
        os.environ,
        DEBUG="1",
        REDIS_URL=env.redis_url,
        DATABASE_URL=f"sqlite:///{db}",
        DJANGO_SETTINGS_MODULE="project.settings",
        REALTIME_VALIDATE_EVENTS="0",
        LOG_LEVEL="WARNING",
        JWT_TTL_SECONDS="86400",
        # thousands of connections of one user from one address: the caps (realtime/caps.py) off
        SOCKETIO_MAX_CONNECTIONS_PER_USER="0",
        SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS="0",
        PYTHONPATH=str(BASE),
    )
    env.product_env.pop("DATABASE_NAME_OVERRIDE", None)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=BASE, env=env.product_env, check=True)
    subprocess.run([PY, "manage.py", "seed_demo"], cwd=BASE, env=env.product_env, check=True, capture_output=True)
    code = (
        "import django; django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "from accounts.tokens import issue_jwt\n"
        "u = get_user_model().objects.get(username='alice')\n"
        "print(u.pk); print(issue_jwt(user=u))\n"
    )
    out = subprocess.run([PY, "-c", code], cwd=BASE, env=env.product_env, check=True, capture_output=True, text=True)
    user_id, token = out.stdout.split()[-2:]
    env.alice_token, env.alice_room = token, f"user:{user_id}"


def start_stack(name: str, env: Env) -> Stack:
    port = embedded_redis.free_port()
    base_env = dict(os.environ, REDIS_URL=env.redis_url, PYTHONUNBUFFERED="1")
    logf = open(env.tmp / f"{name}.log", "ab")  # noqa: SIM115 (lives with the process)
    if name.startswith("ours"):
        tree = env.trees.get(name, BASE)
        senv = dict(
            env.product_env,
            PYTHONPATH=str(tree),
            SOCKETIO_ALLOWED_ORIGINS=f"http://127.0.0.1:{port}",
            REALTIME_FASTPATH="0" if name == "ours-before" else "1",
            REALTIME_UVLOOP="1" if name == "ours-uvloop" else "0",
        )
        if name == "ours-uvicorn":
            argv = [PY, "-m", "uvicorn", "--loop", "uvloop", "--ws", "auto", "--log-level", "warning"]
            argv += ["--host", "127.0.0.1", "--port", str(port), "project.asgi:application"]
        elif name == "ours-uvloop":  # daphne on uvloop (python -m realtime.serve)
            argv = [PY, "-m", "realtime.serve", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"]
        else:
            argv = [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"]
        proc = subprocess.Popen(pinned(env.server_cpu, argv), cwd=tree, env=senv, stdout=logf, stderr=logf)
        kind = "product-single" if name == "ours-single" else "product"
        emitter = [PY, str(tree / "bench" / "emitters.py"), kind, env.redis_url]
        stack = Stack(name, proc, port, "/socket.io/", emitter, senv, env.alice_token, "connected", "test_event")
        stack.emitter_room = env.alice_room  # type: ignore[attr-defined]
        stack.system_cpu = env.system_cpu
        stack.emitter_log = env.tmp / f"{name}-emitter.log"
        stack.server_cwd, stack.server_env = tree, senv  # type: ignore[attr-defined]
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        return stack
    if name == "socketio":
        argv = [PY, "-m", "uvicorn", "--app-dir", str(BENCH), "--log-level", "warning", "--port", str(port)]
        argv += ["bare_socketio_app:app"]
        emitter = [PY, str(BENCH / "emitters.py"), "socketio", env.redis_url]
    elif name == "node":
        argv = ["node", str(NODE_DIR / "server.js"), str(port), env.redis_url]
        emitter = ["node", str(NODE_DIR / "emitter.js"), env.redis_url]
    elif name == "flask":
        argv = [PY, str(BENCH / "flask_threading_app.py"), str(port), env.redis_url]
        emitter = [PY, str(BENCH / "emitters.py"), "flask", env.redis_url]
    else:
        raise SystemExit(f"unknown stack {name!r}")
    proc = subprocess.Popen(pinned(env.server_cpu, argv), cwd=BENCH, env=base_env, stdout=logf, stderr=logf)
    stack = Stack(name, proc, port, "/socket.io/", emitter, base_env, system_cpu=env.system_cpu)
    stack.emitter_log = env.tmp / f"{name}-emitter.log"
    stack.server_cwd, stack.server_env = BENCH, base_env  # type: ignore[attr-defined]
    wait_http(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", proc)
    return stack


def run_emitter(stack: Stack, events: int, rate: float) -> str:
    argv = [*stack.emitter, str(events), str(rate)]
    if stack.name.startswith("ours"):
        argv.append(stack.emitter_room)  # type: ignore[attr-defined]
    env = stack.env
    argv = pinned(stack.system_cpu, argv)
    # The emitter's stderr goes to a file, not to the harness's terminal: emit() logs every event
    # at INFO (realtime.events), and a terminal or pipe reading 500 lines a round takes CPU from
    # the cores being measured.
    with open(stack.emitter_log or os.devnull, "ab") as err:
        done = subprocess.run(
            argv, cwd=BASE, env=env, check=True, timeout=300, stdout=subprocess.PIPE, stderr=err, text=True
        )
    return done.stdout


def timed_emitter(stack: Stack, events: int) -> dict:
    """run_emitter at full speed; what it reports: its send loop's wall time and CPU (start-up
    excluded), and so its events/s."""
    out = run_emitter(stack, events, 0)
    try:
        r = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}
    return {"rate": events * 1000 / r["elapsed_ms"] if r["elapsed_ms"] else None, "cpu_ms": r.get("cpu_ms")}


# --- the load client -------------------------------------------------------------------------------


class Load:
    def __init__(self, stack: Stack, env: Env, clients: int, *, idle: bool = False, quiet_ms: int = 5000) -> None:
        node = ["node"]
        if env.client_profile:  # --client-profile: V8 CPU profile of this load client
            env.client_profile.mkdir(parents=True, exist_ok=True)
            node += ["--cpu-prof", "--cpu-prof-dir", str(env.client_profile)]
            node += ["--cpu-prof-name", f"{stack.name}-{clients}-{time.strftime('%H%M%S')}.cpuprofile"]
        argv = [
            *node,
            os.environ.get("BENCH_LOAD_JS", str(NODE_DIR / "load.js")),
            "--url",
            f"http://127.0.0.1:{stack.port}",
            "--path",
            stack.path,
        ]
        argv += ["--clients", str(clients), "--event", stack.event, "--ready-event", stack.ready_event]
        argv += ["--quiet", str(quiet_ms)]
        if stack.token:
            argv += ["--token", stack.token]
        if idle:
            argv.append("--idle")
        self.proc = subprocess.Popen(
            pinned(env.client_cpu, argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.hello = self.read()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load client exited ({self.proc.wait()})")
        return json.loads(line)

    def round(self, expect: int, emit: callable, server_pid: int | None = None) -> dict:
        """One round; with server_pid, also the CPU (ms) the server tree and this load client
        used from before the round starts until its result line (utime + stime, /proc)."""
        cpu0 = (cpu_ms(server_pid), cpu_ms(self.proc.pid)) if server_pid else None
        self.proc.stdin.write(f"{expect}\n")
        self.proc.stdin.flush()
        assert self.read().get("started")
        emit()
        result = self.read()
        if cpu0:
            result["server_cpu_ms"] = cpu_ms(server_pid) - cpu0[0]
            result["client_cpu_ms"] = cpu_ms(self.proc.pid) - cpu0[1]
        return result

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# --- figures ---------------------------------------------------------------------------------------


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# Per fan-out round, besides deliveries/s: where the limit is (table rows, medians of the rounds).
CPU_FIGURES = {
    "server_cpu_100k": ("server CPU ms per 100k deliveries", ".0f"),
    "client_cpu_100k": ("load-client CPU ms per 100k deliveries", ".0f"),
    "bytes_per_delivery": ("bytes read by the load client per delivery", ".0f"),
    "deliveries_per_read": ("deliveries per TCP read in the load client", ".1f"),
}


def fanout(stack: Stack, env: Env, clients: int, events: int, runs: int) -> dict:
    load = Load(stack, env, clients)
    try:
        if load.hello["ready"] < clients:
            log(f"{stack.name}: only {load.hello['ready']} of {clients} clients connected")
        if load.hello["welcomed"] < load.hello["ready"]:
            log(f"{stack.name}: {load.hello['ready'] - load.hello['welcomed']} connected clients got no greeting")
        load.round(min(events, 20), lambda: run_emitter(stack, min(events, 20), 0))  # warm-up
        results = []
        for _ in range(runs):
            emitter: dict = {}
            redis0 = cpu_ms(env.redis_pid) if env.redis_pid else 0.0
            r = load.round(events, lambda e=emitter: e.update(timed_emitter(stack, events)), stack.server.pid)
            r["redis_cpu_ms"] = cpu_ms(env.redis_pid) - redis0 if env.redis_pid else None
            results.append(r | {"emitter": emitter})
    finally:
        load.close()
    for r in results:
        d = max(r["delivered"], 1)
        r["server_cpu_100k"] = r["server_cpu_ms"] * 100_000 / d
        r["client_cpu_100k"] = r["client_cpu_ms"] * 100_000 / d
        w = r.get("wire") or {}
        r["bytes_per_delivery"] = w.get("bytes", 0) / d
        r["deliveries_per_read"] = d / w["reads"] if w.get("reads") else None
        # Share of one core each process used while deliveries flowed (CPU over the round / the
        # span from first send to last delivery; the CPU windows are a little wider, idle costs ~0).
        # A process near 100 is the limit; the emitter's events/s x N is a ceiling of its own.
        span = r["span_ms"] or 0
        r["busy"] = {
            k: (v * 100 / span if span > 0 and v is not None else None)
            for k, v in (
                ("server", r["server_cpu_ms"]),
                ("client", r["client_cpu_ms"]),
                ("emitter", r["emitter"].get("cpu_ms")),
                ("redis", r["redis_cpu_ms"]),
            )
        }
        r["emitter_rate"] = r["emitter"].get("rate")
        log(
            f"{stack.name} fan-out N={clients}: {r['delivered']}/{r['expected']} in {fmt(r['span_ms'])} ms "
            f"= {r['rate']:.0f}/s (delivery phase {fmt(r.get('delivery_span_ms'))} ms "
            f"= {fmt(r.get('delivery_rate'))}/s); CPU per 100k: server {r['server_cpu_100k']:.0f} ms, "
            f"load client {r['client_cpu_100k']:.0f} ms; busy % { ({k: fmt(v) for k, v in r['busy'].items()}) }; "
            f"emitter {fmt(r['emitter_rate'])} events/s; wire {w}"
        )
    return {
        "rate": median([r["rate"] for r in results]),
        "delivery_rate": median([r.get("delivery_rate") for r in results]),
        **{k: median([r[k] for r in results]) for k in CPU_FIGURES},
        "busy": {k: median([r["busy"][k] for r in results]) for k in ("server", "client", "emitter", "redis")},
        "emitter_rate": median([r["emitter_rate"] for r in results]),
        "lost": max(r["expected"] - r["delivered"] for r in results),
        "connected": load.hello["ready"],
        "not_welcomed": load.hello["ready"] - load.hello["welcomed"],
    }


def latency(stack: Stack, env: Env, clients: int, events: int, rate: float, runs: int) -> dict:
    load = Load(stack, env, clients)
    try:
        # Warm-up: one second at the measured rate, not counted (every stack's first round at a
        # new rate has a tail of its own: the load client's and the servers' first-time paths).
        warm = max(10, int(rate))
        load.round(warm, lambda: run_emitter(stack, warm, rate))
        results = [load.round(events, lambda: run_emitter(stack, events, rate)) for _ in range(runs)]
    finally:
        load.close()
    for r in results:
        log(
            f"{stack.name} latency {rate:.0f} ev/s x {clients}: p50 {fmt(r['p50'], '.2f')} p99 {fmt(r['p99'], '.2f')} ms"
        )
    return {k: median([r[k] for r in results]) for k in ("p50", "p99", "p999")} | {
        "lost": max(r["expected"] - r["delivered"] for r in results)
    }


def idle(stack: Stack, env: Env, clients: int) -> dict:
    before = rss_kb(stack.server.pid)
    load = Load(stack, env, clients, idle=True)
    try:
        held = load.read().get("held", load.hello["ready"])  # still held 2 s later
        after = rss_kb(stack.server.pid)
    finally:
        load.close()
    log(
        f"{stack.name} idle: {held} held ({load.hello['connect_ms']} ms to connect), RSS +{(after - before) // 1024} MiB"
    )
    return {
        "held": held,
        "rss_per_conn_kb": (after - before) / held if held else None,
        "connect_ms": load.hello["connect_ms"],
        "conn_per_s": load.hello["ready"] * 1000 / load.hello["connect_ms"] if load.hello["connect_ms"] else None,
        "rss_mb": after / 1024,
    }


def storm(stack: Stack, env: Env, clients: int, rate: float) -> dict:
    """The reconnect storm (issue 16): `clients` connections (testing/storm_clients.mjs:
    socket.io-client's default backoff with jitter, each back with its `last_seen`) while the
    stack's emitter sends `rate` events/s to their room; the server is killed (-9) and started
    again on the same port, as `make run`'s supervisor does. Figures: time from the restart until
    99 % and 100 % of the clients are welcomed back and caught up, events lost (gaps and
    duplicates in each room's sequence numbers; ours only: Node's events carry none and it has no
    replay), resyncs, and the server's RSS at the end."""
    ours = stack.name.startswith("ours")
    argv = ["node", str(BASE / "testing" / "storm_clients.mjs"), "--url", f"http://127.0.0.1:{stack.port}"]
    argv += ["--clients", str(clients), "--tokens", stack.token or "-", "--timeout-ms", "180000"]
    argv += ["--event", stack.event, "--ready-event", stack.ready_event]
    load = subprocess.Popen(
        pinned(env.client_cpu, argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )

    def command(line: str | None) -> dict:
        if line is not None:
            load.stdin.write(line + "\n")
            load.stdin.flush()
        answer = load.stdout.readline()
        if not answer:
            raise RuntimeError(f"storm clients exited ({load.wait()})")
        return json.loads(answer)

    events = int(rate * 120)  # more than the round lasts; the emitter is stopped after the restart
    emitter_argv = [*stack.emitter, str(events), str(rate)] + ([stack.emitter_room] if ours else [])  # type: ignore[attr-defined]
    emitter = None
    try:
        hello = command(None)
        log(f"{stack.name} storm: {hello['ready']} connected in {hello['connect_ms']} ms")
        with open(stack.emitter_log or os.devnull, "ab") as err:
            emitter = subprocess.Popen(
                pinned(stack.system_cpu, emitter_argv), cwd=BASE, env=stack.env, stdout=subprocess.DEVNULL, stderr=err
            )
        time.sleep(2)  # events flowing for a while before the kill (a period of load, not a sync)
        argv_server, cwd = stack.server.args, stack.server_cwd  # type: ignore[attr-defined]
        stack.server.kill()
        stack.server.wait(10)
        command("mark kill")
        logf = open(env.tmp / f"{stack.name}.log", "ab")  # noqa: SIM115 (lives with the process)
        stack.server = subprocess.Popen(argv_server, cwd=cwd, env=stack.server_env, stdout=logf, stderr=logf)  # type: ignore[attr-defined]
        wait_http(
            f"http://127.0.0.1:{stack.port}{'/healthz' if ours else '/socket.io/?EIO=4&transport=polling'}",
            stack.server,
        )
        command("mark restart")
        time.sleep(2)  # events keep flowing while the clients come back
        emitter.terminate()
        emitter.wait(10)
        heads = {}
        if ours:
            import redis

            conn = redis.Redis.from_url(env.redis_url)
            user_room = stack.emitter_room  # type: ignore[attr-defined]
            seq = conn.hget(f"rt:state:{{/|{user_room}}}", "seq")
            heads[user_room] = int(seq or 0)
        result = command("expect " + json.dumps(heads))
        result["rss_mb"] = rss_kb(stack.server.pid) / 1024
        result["connect_ms"] = hello["connect_ms"]
    finally:
        if emitter is not None and emitter.poll() is None:
            emitter.kill()
        load.stdin.close()
        try:
            load.wait(30)
        except subprocess.TimeoutExpired:
            load.kill()
    log(f"{stack.name} storm: {result}")
    return result


PROGRESS_CODE = """
import time, django
django.setup()
from django.db import connection
from jobs.models import JobRecord
from jobs.progress import ProgressTracker
from realtime.emit import emit
n = {n}
def work(i):
    return sum(range(50))
rec = JobRecord.objects.create(kind="bench")
rec.status = "running"; rec.save()
t0 = time.perf_counter()
for i in range(n): work(i)
bare = time.perf_counter() - t0
tracker = ProgressTracker(str(rec.pk))
t0 = time.perf_counter()
for i in range(n):
    work(i); tracker.set_progress(i * 100 / n, "step")
tracker.flush()
tracked = time.perf_counter() - t0
t0 = time.perf_counter()
for i in range(n):
    work(i); emit("test_event", {{"n": i, "text": "step", "source": "bench"}}, room="job:" + str(rec.pk))
naive = time.perf_counter() - t0
print({{"bare": bare, "tracked": tracked, "naive": naive, "sent": tracker._throttle.sent}})
"""


def progress(env: Env, reports: int) -> dict:
    out = subprocess.run(
        [PY, "-c", PROGRESS_CODE.format(n=reports)], cwd=BASE, env=env.product_env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    import ast

    r = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    node = subprocess.run(
        ["node", str(NODE_DIR / "emitter.js"), env.redis_url, str(reports), "0"],
        check=True,
        capture_output=True,
        text=True,
    )
    node_s = json.loads(node.stdout.strip().splitlines()[-1])["elapsed_ms"] / 1000
    log(f"progress x{reports}: tracker +{(r['tracked'] - r['bare']) * 1000:.1f} ms, naive emit {r['naive']:.2f} s")
    return r | {"node_emitter_s": node_s}


# --- the table -------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def ratio(value: float | None, node: float | None) -> str:
    return "" if value is None or not node else f" ({value / node:.2f}x)"


def table(results: dict[str, dict], opts: argparse.Namespace) -> str:
    stacks = [s for s in opts.stacks if s in results]
    node = results.get("node", {})
    lines = ["| figure | " + " | ".join(stacks) + " |", "|---|" + "---|" * len(stacks)]
    for n in [] if "fanout" in opts.skip else opts.clients:
        row = []
        for s in stacks:
            r = results[s].get(f"fanout{n}")
            v = r and r["rate"]
            lost = f", {r['lost']} lost" if r and r["lost"] > 0 else ""
            row.append(fmt(v) + ratio(v, (node.get(f"fanout{n}") or {}).get("rate")) + lost)
        events = opts.events if n < 1000 else opts.events_large
        lines.append(f"| fan-out deliveries/s, {n} clients x {events} events | " + " | ".join(row) + " |")
        row = []
        for s in stacks:
            v = (results[s].get(f"fanout{n}") or {}).get("delivery_rate")
            row.append(fmt(v) + ratio(v, (node.get(f"fanout{n}") or {}).get("delivery_rate")))
        lines.append(
            f"| fan-out deliveries/s, delivery phase only (first delivery to last), {n} clients | "
            + " | ".join(row)
            + " |"
        )
        for key, (label, spec) in CPU_FIGURES.items():
            row = []
            for s in stacks:
                v = (results[s].get(f"fanout{n}") or {}).get(key)
                row.append(fmt(v, spec) + ratio(v, (node.get(f"fanout{n}") or {}).get(key)))
            lines.append(f"| {label}, {n} clients | " + " | ".join(row) + " |")
        row = []
        for s in stacks:
            b = (results[s].get(f"fanout{n}") or {}).get("busy") or {}
            row.append(" / ".join(fmt(b.get(k)) for k in ("server", "client", "emitter", "redis")))
        lines.append(
            f"| % of a core while delivering: server / load client / emitter / Redis, {n} clients | "
            + " | ".join(row)
            + " |"
        )
        row = []
        for s in stacks:
            v = (results[s].get(f"fanout{n}") or {}).get("emitter_rate")
            row.append(fmt(v) + ratio(v, (node.get(f"fanout{n}") or {}).get("emitter_rate")))
        lines.append(f"| emitter events/s (its send loop), {n} clients | " + " | ".join(row) + " |")
    if "latency" not in opts.skip:
        for rate in opts.latency_rates:
            key = f"latency{rate:.0f}"
            for p in ("p50", "p99", "p999"):
                row = []
                for s in stacks:
                    r = results[s].get(key)
                    v = r and r[p]
                    lost = f", {r['lost']} lost" if r and r["lost"] > 0 and p == "p50" else ""
                    row.append(fmt(v, ".2f") + ratio(v, (node.get(key) or {}).get(p)) + lost)
                lines.append(
                    f"| latency {p} ms, {rate:.0f} ev/s x {opts.latency_clients} clients | " + " | ".join(row) + " |"
                )
    for n in [] if "idle" in opts.skip else opts.idle_counts:
        key = f"idle{n}"
        rows: dict[str, list[str]] = {"held": [], "rate": [], "rss": []}
        for s in stacks:
            r = results[s].get(key) or {}
            nr = node.get(key) or {}
            rows["held"].append(fmt(r.get("held")) + ratio(r.get("held"), nr.get("held")))
            rows["rate"].append(fmt(r.get("conn_per_s")) + ratio(r.get("conn_per_s"), nr.get("conn_per_s")))
            rows["rss"].append(
                fmt(r.get("rss_per_conn_kb"), ".1f") + ratio(r.get("rss_per_conn_kb"), nr.get("rss_per_conn_kb"))
            )
        lines.append(f"| idle connections held (of {n}), one process | " + " | ".join(rows["held"]) + " |")
        lines.append(f"| connections opened per second, {n} (200 at a time, JWT) | " + " | ".join(rows["rate"]) + " |")
        lines.append(f"| RSS per idle connection, KiB, {n} | " + " | ".join(rows["rss"]) + " |")
    if "storm" not in opts.skip:
        labels = {
            "back_p99_ms": "99 % back (welcomed) after the restart, ms",
            "back_all_ms": "100 % back after the restart, ms",
            "caught_up_all_ms": "100 % back and caught up after the restart, ms",
            "lost": "events lost (gaps + duplicates in a room's sequence)",
            "resyncs": "resync_required received",
            "rss_mb": "server RSS at the end, MiB",
        }
        for key, label in labels.items():
            row = []
            for s in stacks:
                r = results[s].get("storm") or {}
                v = r.get("gaps", 0) + r.get("duplicates", 0) if key == "lost" and r else r.get(key)
                if key in ("lost", "resyncs") and not s.startswith("ours"):
                    row.append("n/a (no replay)")
                    continue
                row.append(
                    fmt(v) + ("" if key in ("lost", "resyncs") else ratio(v, (node.get("storm") or {}).get(key)))
                )
            lines.append(f"| storm, {opts.storm} clients, kill -9: {label} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def progress_table(r: dict, reports: int) -> str:
    overhead = r["tracked"] - r["bare"]
    return "\n".join(
        [
            f"| progress, job reporting {reports:,} times | seconds | per report | vs Node emitter |",
            "|---|---|---|---|",
            f"| job without reporting | {r['bare']:.3f} | | |",
            f"| + ProgressTracker (throttled, {r['sent']} sent) | +{overhead:.3f} | "
            f"{overhead / reports * 1e6:.1f} us | {overhead / r['node_emitter_s']:.2f}x |",
            f"| + emit() on every report (unthrottled) | +{r['naive'] - r['bare']:.3f} | "
            f"{(r['naive'] - r['bare']) / reports * 1e6:.1f} us | {(r['naive'] - r['bare']) / r['node_emitter_s']:.2f}x |",
            f"| Node @socket.io/redis-emitter, {reports:,} emits | {r['node_emitter_s']:.3f} | "
            f"{r['node_emitter_s'] / reports * 1e6:.1f} us | 1.00x |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--stacks",
        default=",".join(ALL_STACKS),
        help=f"comma list from {ALL_STACKS} + ours-single, ours-uvloop, ours-uvicorn",
    )
    parser.add_argument("--clients", default="100,1000", help="fan-out room sizes")
    parser.add_argument("--events", type=int, default=500, help="events per fan-out round, rooms under 1,000")
    parser.add_argument("--events-large", type=int, default=100, help="events per fan-out round, rooms of 1,000+")
    parser.add_argument("--runs", type=int, default=3, help="rounds per figure (the median is reported)")
    parser.add_argument(
        "--latency-rates",
        default="100,500",
        help="events/s for the latency figures (500 x 100 clients: half our capacity)",
    )
    parser.add_argument("--latency-clients", type=int, default=100)
    parser.add_argument("--latency-events", type=int, default=500)
    parser.add_argument(
        "--idle", default="2000", help="idle connections to open, a comma list for several rounds (e.g. 10000,20000)"
    )
    parser.add_argument("--storm", type=int, default=2000, help="clients of the reconnect-storm round (target: 10000)")
    parser.add_argument("--storm-rate", type=float, default=2.0, help="events/s to their room during the storm")
    parser.add_argument("--reports", type=int, default=10000, help="progress reports of the tracker job")
    parser.add_argument("--skip", default="", help="comma list of fanout,latency,idle,storm,progress")
    parser.add_argument("--server-cpu", type=int, default=None, help="core for servers (default: the first)")
    parser.add_argument("--client-cpu", type=int, default=None, help="core for the load client (default: last)")
    parser.add_argument(
        "--system-cpu",
        default="none",
        help="core for Redis and the emitters: 'none' (default: unpinned), 'server' (the server's core, so "
        "the load client has its core to itself; measured: it costs our stack more than Node's, whose "
        "emitter and Redis work per event are lighter) or a number",
    )
    parser.add_argument(
        "--client-profile",
        metavar="DIR",
        help="run each load client with node --cpu-prof, profiles in DIR (costs the client some CPU)",
    )
    parser.add_argument("--out", help="also write the markdown here")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also run stack ours@REF: the product at git REF (e.g. main), from a temporary worktree",
    )
    opts = parser.parse_args()
    opts.stacks = [s for s in opts.stacks.split(",") if s]
    if opts.baseline and f"ours@{opts.baseline}" not in opts.stacks:  # listed: run where listed
        opts.stacks.insert(opts.stacks.index("ours") + 1 if "ours" in opts.stacks else 0, f"ours@{opts.baseline}")
    opts.clients = [int(c) for c in opts.clients.split(",") if c]
    opts.skip = {s for s in opts.skip.split(",") if s}
    opts.idle_counts = [int(n) for n in opts.idle.split(",") if n]
    opts.latency_rates = [float(r) for r in opts.latency_rates.split(",") if r]
    available = cpus()
    server_cpu = opts.server_cpu if opts.server_cpu is not None else available[0]
    client_cpu = opts.client_cpu if opts.client_cpu is not None else available[-1]
    if server_cpu == client_cpu:
        log("one core only: server and load client share it")

    ensure_dependencies()
    fd_limit = raise_fd_limit()
    started = time.monotonic()
    info = machine()
    tmp = Path(tempfile.mkdtemp(prefix="rt-bench-"))
    redis_port = embedded_redis.free_port()
    redis_proc = embedded_redis.start(redis_port, tmp / "redis", persist=False)
    system_cpu = {"server": server_cpu, "none": None}.get(opts.system_cpu)
    if system_cpu is None and opts.system_cpu not in ("server", "none"):
        system_cpu = int(opts.system_cpu)
    if system_cpu is not None and shutil.which("taskset"):
        subprocess.run(["taskset", "-p", "-c", str(system_cpu), str(redis_proc.pid)], check=True, capture_output=True)
    env = Env(tmp, f"redis://127.0.0.1:{redis_port}/0", server_cpu, client_cpu, system_cpu)
    env.client_profile = Path(opts.client_profile).resolve() if opts.client_profile else None
    env.redis_pid = redis_proc.pid
    if opts.baseline:
        env.trees[f"ours@{opts.baseline}"] = baseline_tree(opts.baseline, tmp)
    results: dict[str, dict] = {}
    progress_result = None
    try:
        prepare_product(env)
        for name in opts.stacks:
            log(f"starting {name}")
            stack = start_stack(name, env)
            results[name] = {}
            try:
                if "fanout" not in opts.skip:
                    for n in opts.clients:
                        events = opts.events if n < 1000 else opts.events_large
                        results[name][f"fanout{n}"] = fanout(stack, env, n, events, opts.runs)
                if "latency" not in opts.skip:
                    for rate in opts.latency_rates:
                        results[name][f"latency{rate:.0f}"] = latency(
                            stack, env, opts.latency_clients, opts.latency_events, rate, opts.runs
                        )
                # Each idle round and the storm on a fresh server process: a process that already
                # held N connections keeps the memory it grew (Python reuses it, the OS does not
                # get it back), so a second round's RSS growth would read too low, and its
                # clean-up of the last round's connections would slow the next one down.
                fresh = bool(results[name])
                if "idle" not in opts.skip and name != "ours-before":
                    for n in opts.idle_counts:
                        if fresh:
                            stack.stop()
                            stack = start_stack(name, env)
                        results[name][f"idle{n}"] = idle(stack, env, n)
                        fresh = True
                if "storm" not in opts.skip and name != "ours-before":
                    if fresh:
                        stack.stop()
                        stack = start_stack(name, env)
                    results[name]["storm"] = storm(stack, env, opts.storm, opts.storm_rate)
            except Exception as exc:  # a stack that fails is reported, the others still run
                log(f"{name} failed: {exc!r} (log: {tmp / (name + '.log')})")
            finally:
                stack.stop()
        if "progress" not in opts.skip:
            progress_result = progress(env, opts.reports)
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)
        for tree in env.trees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=BASE, capture_output=True)

    head = (
        f"Machine: {info}. Server processes pinned to CPU {server_cpu}, the load client (one Node "
        f"socket.io-client process, WebSocket transport) to CPU {client_cpu}; Redis and the emitters "
        f"{'unpinned' if system_cpu is None else f'on CPU {system_cpu}'}. "
        f"Medians of {opts.runs} runs; (x) = ratio to Node. fd limit {fd_limit}. "
        f"Took {time.monotonic() - started:.0f} s.\n\n"
        f"Command: `{' '.join([Path(PY).name, 'bench/run.py', *sys.argv[1:]])}`\n"
    )
    text = head + "\n" + table(results, opts) + "\n"
    if progress_result:
        text += "\n" + progress_table(progress_result, opts.reports) + "\n"
    print(text)
    (tmp / "results.json").write_text(json.dumps(results, indent=1))
    if opts.out:
        Path(opts.out).write_text(text)
    log(f"raw results in {tmp / 'results.json'}")


if __name__ == "__main__":
    main()
