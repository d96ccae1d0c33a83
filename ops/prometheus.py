"""/metrics in Prometheus' text format, built from the same numbers as stats.collect().

Per-process counters carry a `process` label (a restarted process starts from zero and
Prometheus sees a counter reset on that series, as it should). Job durations and outcomes: of
every job any worker ran, per function (ops/job_runs.py, kept in Redis by TrackingWorker), and of
tracked jobs per kind from the JobRecord table (the truth, whichever worker ran the job)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from redis.exceptions import RedisError

from jobs.models import JobRecord
from ops import job_runs, stats
from realtime import outbox
from realtime.redis import sync_client

JOB_DURATION_BUCKETS = job_runs.BUCKETS

# process counter name -> (metric name, help)
PROCESS_COUNTERS = {
    "connections": ("realtime_connections_opened", "Socket.IO connections accepted"),
    "connections_refused": ("realtime_connections_refused", "Socket.IO connections refused (auth)"),
    "connections_capped_user": (
        "realtime_connections_capped_user",
        "Connections (Socket.IO and /ws/rooms/) refused: SOCKETIO_MAX_CONNECTIONS_PER_USER reached",
    ),
    "connections_capped_address": (
        "realtime_connections_capped_address",
        "Connections (Socket.IO and /ws/rooms/) refused: SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS reached",
    ),
    "connections_shed": (
        "realtime_connections_shed",
        "New connections refused with 503 server_busy: SOCKETIO_MAX_PENDING_HANDSHAKES reached (a storm)",
    ),
    "disconnections": ("realtime_disconnections", "Socket.IO disconnections"),
    "deliveries": ("realtime_deliveries", "Room events delivered to local clients"),
    "events_received": ("realtime_events_received", "Room events received from Redis pub/sub"),
    "pubsub_messages": ("realtime_pubsub_messages", "Pub/sub messages received (room channels and broadcast)"),
    "room_subscribes": ("realtime_room_subscribes", "Room channels subscribed (a room's first local member)"),
    "room_unsubscribes": ("realtime_room_unsubscribes", "Room channels unsubscribed (a room's last member left)"),
    "replayed": ("realtime_replayed_events", "Events replayed from the replay log on (re)join"),
    "resyncs": ("realtime_resyncs", "resync_required sent (replay log did not cover the gap)"),
    "duplicates_dropped": ("realtime_duplicates_dropped", "Live events dropped as already replayed"),
    "rate_limited": ("realtime_rate_limited_events", "Client events refused by the rate limit"),
    "bad_packets": ("realtime_bad_packets", "Malformed client packets dropped"),
    "slow_consumer_disconnects": (
        "realtime_slow_consumer_disconnects",
        "Connections closed for holding more than SOCKETIO_MAX_BUFFERED_BYTES unsent (close 4008 slow_consumer)",
    ),
    "emit_failures": ("realtime_emit_failures", "Emits that could not be published (Redis)"),
    "emit_deferred": ("realtime_emits_deferred", "Events of committed changes deferred to the outbox relay (Redis)"),
    "ws_rooms_connections_opened": ("ws_rooms_connections_opened", "Plain /ws/rooms/ connections accepted"),
    "fastpath_direct_writers": (
        "realtime_fastpath_direct_writers",
        "WebSocket connections the fast path writes to directly (daphne's connection)",
    ),
    "fastpath_asgi_writers": (
        "realtime_fastpath_asgi_writers",
        "WebSocket connections on the fast path without a direct writer (not daphne, or a library changed: slower)",
    ),
    "revocations_applied": (
        "realtime_revocations_applied",
        "Live connections closed or made to leave rooms by an access revocation (realtime/revocation.py)",
    ),
}


class StatsCollector:
    def collect(self) -> Iterator[Metric]:
        # The outbox backlog and whether Redis answers come first and from the database: during
        # a Redis outage they are what matters, so /metrics still answers with them.
        yield from _outbox()
        try:
            from_redis = list(self._from_redis())
        except RedisError:
            from_redis = []
        yield GaugeMetricFamily("realtime_redis_up", "1 if Redis answered this scrape", 1 if from_redis else 0)
        yield from from_redis

    def _from_redis(self) -> Iterator[Metric]:
        redis = sync_client()
        processes = stats.live_processes(redis)
        yield from _connections(processes)
        yield from _process_counters(processes)
        emits = CounterMetricFamily("realtime_emits", "Events published, all processes", labels=["event"])
        for event, count in stats.emits_by_event(redis).items():
            emits.add_metric([event], count)
        yield emits
        bridged = CounterMetricFamily(
            "realtime_bridged_group_sends", "Channels group_sends bridged to rooms, all processes", labels=["event"]
        )
        for event, count in stats.bridged_by_event(redis).items():
            bridged.add_metric([event], count)
        yield bridged
        yield GaugeMetricFamily(
            "realtime_events_per_second", "Events published per second (10 s average)", stats.events_per_second(redis)
        )
        yield from _queues()
        yield from _job_runs(redis)
        yield from _jobs()


def _outbox() -> Iterator[Metric]:
    backlog = outbox.backlog()
    yield GaugeMetricFamily(
        "realtime_outbox_waiting", "Events committed and not yet published (the outbox backlog)", backlog["waiting"]
    )
    yield GaugeMetricFamily(
        "realtime_outbox_oldest_age_seconds",
        "Age of the oldest event waiting in the outbox (0 when none)",
        backlog["oldest_age_seconds"],
    )


def _connections(processes: list[dict[str, Any]]) -> Iterator[Metric]:
    conns = GaugeMetricFamily("realtime_connections", "Open connections", labels=["process", "namespace"])
    rooms = GaugeMetricFamily("realtime_rooms", "Rooms with local members", labels=["process"])
    plain = GaugeMetricFamily("ws_rooms_connections", "Open plain /ws/rooms/ WebSocket connections", labels=["process"])
    fast = GaugeMetricFamily(
        "realtime_fastpath_active",
        "1 when the process delivers through the fast path (realtime/compat/fastpath.py), 0 with the reason why not",
        labels=["process", "reason"],
    )
    channels = GaugeMetricFamily("realtime_rooms_subscribed", "Room channels subscribed", labels=["process"])
    for proc in processes:
        for namespace, count in proc["connections"].items():
            conns.add_metric([proc["process"], namespace], count)
        rooms.add_metric([proc["process"]], len(proc["rooms"]))
        plain.add_metric([proc["process"]], proc.get("ws_rooms_connections", 0))
        status = proc.get("fastpath", {"active": False, "reason": "not reported"})
        fast.add_metric([proc["process"], status["reason"] or ""], 1 if status["active"] else 0)
        channels.add_metric([proc["process"]], proc.get("rooms_subscribed", 0))
    yield conns
    yield rooms
    yield plain
    yield fast
    yield channels
    yield GaugeMetricFamily("realtime_server_processes", "Server processes reporting", len(processes))


def _process_counters(processes: list[dict[str, Any]]) -> Iterator[Metric]:
    for key, (name, help_text) in PROCESS_COUNTERS.items():
        family = CounterMetricFamily(name, help_text, labels=["process"])
        for proc in processes:
            family.add_metric([proc["process"]], proc["counters"].get(key, 0))
        yield family


def _queues() -> Iterator[Metric]:
    depth = GaugeMetricFamily("rq_queue_jobs", "Jobs in an RQ queue or registry", labels=["queue", "state"])
    workers = GaugeMetricFamily("rq_workers", "RQ workers listening on a queue", labels=["queue"])
    for queue in stats.queues():
        for state in ("queued", "started", "failed", "deferred", "scheduled"):
            depth.add_metric([queue["name"], state], queue[state])
        workers.add_metric([queue["name"]], queue["workers"])
    yield depth
    yield workers


def _job_runs(redis: Any) -> Iterator[Metric]:
    runs = job_runs.read(redis)
    hist = HistogramMetricFamily(
        "rq_job_duration_seconds", "Run time of every job a worker ran, per function", labels=["func", "outcome"]
    )
    count = CounterMetricFamily(
        "rq_job_runs", "Jobs a worker ran, per function and outcome", labels=["func", "outcome"]
    )
    for run in runs:
        buckets = [(floatToGoString(b), run.buckets.get(float(b), 0)) for b in job_runs.BUCKETS]
        buckets.append(("+Inf", run.count))
        hist.add_metric([run.func, run.outcome], buckets, run.total_seconds)
        count.add_metric([run.func, run.outcome], run.count)
    yield hist
    yield count


def _jobs() -> Iterator[Metric]:
    by_status = GaugeMetricFamily("jobs_records", "Tracked jobs by kind and status", labels=["kind", "status"])
    for row in JobRecord.objects.values("kind", "status").annotate(n=Count("pk")).order_by():
        by_status.add_metric([row["kind"], row["status"]], row["n"])
    yield by_status
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    aggregates: dict[str, Any] = {"n": Count("pk"), "total": Sum(duration)}
    for i, bound in enumerate(JOB_DURATION_BUCKETS):
        aggregates[f"le{i}"] = Count("pk", filter=Q(d__lte=_seconds(bound)))
    rows = (
        JobRecord.objects.filter(status__in=JobRecord.TERMINAL, started_at__isnull=False, finished_at__isnull=False)
        .annotate(d=duration)
        .values("kind", "status")
        .annotate(**aggregates)
        .order_by()
    )
    hist = HistogramMetricFamily(
        "jobs_duration_seconds", "Run time of finished jobs (started to finished)", labels=["kind", "outcome"]
    )
    for row in rows:
        buckets = [(floatToGoString(b), row[f"le{i}"]) for i, b in enumerate(JOB_DURATION_BUCKETS)]
        buckets.append(("+Inf", row["n"]))
        total = row["total"].total_seconds() if row["total"] else 0.0
        hist.add_metric([row["kind"], row["status"]], buckets, total)
    yield hist


def _seconds(value: float):
    from datetime import timedelta

    return timedelta(seconds=value)


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatsCollector())
    return generate_latest(registry)
