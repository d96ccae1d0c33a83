"""The system's numbers, summed across every server process: what `statistics_update`, GET
/api/stats, /metrics and the ops page show.

Sources: the per-process snapshots the servers publish (process_stats.py), the global emit
counters realtime.emit keeps in Redis, RQ's queues, registries and workers, the JobRecord table
(the truth about jobs), and the recent-errors list (errorlog.py).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import django_rq
from django.db.models import Count
from rq import Worker
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from accounts.models import Tenant
from jobs.models import JobRecord
from ops import app_stats, keys
from realtime import outbox
from realtime.bridge import BRIDGED_COUNTS_KEY
from realtime.emit import EMIT_COUNTS_KEY, EMIT_SECOND_PREFIX
from realtime.redis import sync_client

RATE_WINDOW_SECONDS = 10
TOP_ROOMS = 25


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _mget(redis: Any, names: list[str]) -> list:
    """MGET; on a Redis Cluster (REALTIME_REDIS_CLUSTER) the keys are in several slots, and
    redis-py's mget_nonatomic reads them node by node."""
    if hasattr(redis, "mget_nonatomic"):
        return redis.mget_nonatomic(names)
    return redis.mget(names)


def live_processes(redis: Any | None = None) -> list[dict[str, Any]]:
    redis = redis or sync_client()
    now = time.time()
    names = [n.decode() for n in redis.zrangebyscore(keys.PROCESSES, now, "+inf")]
    if not names:
        return []
    raw = _mget(redis, [keys.PROCESS_PREFIX + n for n in names])
    return sorted((json.loads(r) for r in raw if r), key=lambda p: p["process"])


def events_per_second(redis: Any | None = None, window: int = RATE_WINDOW_SECONDS) -> float:
    """Published events per second over the last `window` seconds (this one included), all processes."""
    redis = redis or sync_client()
    now = int(time.time())
    counts = _mget(redis, [f"{EMIT_SECOND_PREFIX}{s}" for s in range(now - window + 1, now + 1)])
    return round(sum(int(c or 0) for c in counts) / window, 2)


def emits_by_event(redis: Any | None = None) -> dict[str, int]:
    redis = redis or sync_client()
    return {k.decode(): int(v) for k, v in sorted(redis.hgetall(EMIT_COUNTS_KEY).items())}


def bridged_by_event(redis: Any | None = None) -> dict[str, int]:
    """Channels group_sends bridged to Socket.IO rooms (realtime.bridge), per event, all processes."""
    redis = redis or sync_client()
    return {k.decode(): int(v) for k, v in sorted(redis.hgetall(BRIDGED_COUNTS_KEY).items())}


def queues() -> list[dict[str, Any]]:
    out = []
    for name in django_rq.settings.QUEUES:
        queue = django_rq.get_queue(name)
        conn = queue.connection
        out.append(
            {
                "name": name,
                "queued": queue.count,
                "started": len(StartedJobRegistry(name, connection=conn)),
                "failed": len(FailedJobRegistry(name, connection=conn)),
                "deferred": len(DeferredJobRegistry(name, connection=conn)),
                "scheduled": len(ScheduledJobRegistry(name, connection=conn)),
                "workers": Worker.count(queue=queue),
            }
        )
    return out


def workers() -> list[dict[str, Any]]:
    out = []
    for name in django_rq.settings.QUEUES:
        for worker in Worker.all(queue=django_rq.get_queue(name)):
            out.append(
                {
                    "name": worker.name,
                    "state": str(worker.get_state()),
                    "queues": worker.queue_names(),
                    "current_job": worker.get_current_job_id(),
                    "successful_jobs": worker.successful_job_count,
                    "failed_jobs": worker.failed_job_count,
                }
            )
    return sorted(out, key=lambda w: w["name"])


def job_counts() -> dict[str, int]:
    counts = {status: 0 for status in JobRecord.Status.values}
    for row in JobRecord.objects.values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def recent_errors(redis: Any | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """Recent ERROR log lines of every process, and jobs that ended in error, newest first."""
    redis = redis or sync_client()
    logged = [json.loads(r) for r in redis.lrange(keys.RECENT_ERRORS, 0, limit - 1)]
    failed = [
        {
            "time": _iso(r.finished_at.timestamp()) if r.finished_at else _iso(r.updated_at.timestamp()),
            "source": f"job {r.kind} {r.pk}",
            "message": r.error[:300],
        }
        for r in JobRecord.objects.filter(status=JobRecord.Status.ERROR).order_by("-updated_at")[:limit]
    ]
    return sorted(logged + failed, key=lambda e: e["time"], reverse=True)[:limit]


def _presence(processes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    users: dict[str, set[str]] = defaultdict(set)
    for proc in processes:
        for tenant, names in proc.get("presence", {}).items():
            users[tenant].update(names)
    names = dict(Tenant.objects.filter(pk__in=[int(t) for t in users]).values_list("pk", "name"))
    return [
        {"tenant_id": int(t), "tenant": names.get(int(t), f"tenant {t}"), "count": len(u), "users": sorted(u)}
        for t, u in sorted(users.items(), key=lambda item: -len(item[1]))
    ]


def collect() -> dict[str, Any]:
    """Everything, in one JSON-serialisable dict (the statistics_update payload), with the
    numbers apps contribute (app_stats.py)."""
    redis = sync_client()
    processes = live_processes(redis)
    by_namespace: Counter[str] = Counter()
    room_sizes: Counter[str] = Counter()
    counters: Counter[str] = Counter()
    for proc in processes:
        by_namespace.update(proc["connections"])
        room_sizes.update(proc["rooms"])
        counters.update(proc["counters"])
    presence = _presence(processes)
    rooms = [
        {"namespace": key.split(" ", 1)[0], "room": key.split(" ", 1)[1], "size": size}
        for key, size in room_sizes.most_common(TOP_ROOMS)
    ]
    numbers = {
        "timestamp": _iso(time.time()),
        "connections": sum(by_namespace.values()),
        "connections_by_namespace": dict(sorted(by_namespace.items())),
        "users_online": sum(t["count"] for t in presence),
        "active_instances": len(processes),  # seed 001's dashboard reads it
        "processes": [
            {
                "process": p["process"],
                "role": p["role"],
                "started_at": _iso(p["started_at"]),
                "connections": p["connections"],
                "ws_rooms_connections": p.get("ws_rooms_connections", 0),
                "rooms": len(p["rooms"]),
                "fastpath": p.get("fastpath", {"active": False, "reason": "not reported"}),
                "slow_consumer_disconnects": p["counters"].get("slow_consumer_disconnects", 0),
            }
            for p in processes
        ],
        "ws_rooms_connections": sum(p.get("ws_rooms_connections", 0) for p in processes),
        "rooms_total": len(room_sizes),
        "rooms": rooms,
        "presence": presence,
        "queues": queues(),
        "workers": workers(),
        "jobs": job_counts(),
        "events_per_second": events_per_second(redis),
        "emits_by_event": emits_by_event(redis),
        "bridged_by_event": bridged_by_event(redis),
        "counters": dict(sorted(counters.items())),
        "recent_errors": recent_errors(redis),
        "outbox": outbox.backlog(),
    }
    return {**numbers, **app_stats.collect(set(numbers), redis)}  # apps' numbers never replace ours
