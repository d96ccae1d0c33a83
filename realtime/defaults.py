"""The package's settings and their defaults: a host project sets only what it wants to change.

`apply()` (realtime/apps.py, before any model or module of the package reads a setting) gives
every setting below that the host did not set its default here. The host's identity, project rules
and project model have no default: realtime.host refuses to start without them."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SOCKETIO_ALLOWED_ORIGINS": ["http://localhost:8000", "http://127.0.0.1:8000"],
    "SOCKETIO_MAX_HTTP_BUFFER_SIZE": 64 * 1024,
    "SOCKETIO_MAX_BUFFERED_BYTES": 1024 * 1024,
    "REALTIME_REDIS_POOL_SIZE": 200,
    "REALTIME_REDIS_URL": "",  # the realtime data's own Redis (or Cluster); empty: REDIS_URL
    "REALTIME_REDIS_CLUSTER": False,
    "REALTIME_REVOCATION_POLL_SECONDS": 1.0,
    "REALTIME_REVOCATION_KEEP_SECONDS": 3600.0,
    "SOCKETIO_CHANNEL": "realtime",
    "SOCKETIO_PING_INTERVAL": 25,
    "SOCKETIO_PING_TIMEOUT": 20,
    "SOCKETIO_RATE_LIMIT_PER_SECOND": 20.0,
    "SOCKETIO_RATE_LIMIT_BURST": 40,
    "SOCKETIO_MAX_CONNECTIONS_PER_USER": 50,
    "SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS": 500,
    "SOCKETIO_MAX_PENDING_HANDSHAKES": 500,
    "SOCKETIO_ADMIN_ENABLED": False,
    "SOCKETIO_ADMIN_USERNAME": "",
    "SOCKETIO_ADMIN_PASSWORD": "",
    "REPLAY_LOG_MAXLEN": 1000,
    "REPLAY_LOG_MAX_AGE_SECONDS": 24 * 3600,
    "REALTIME_VALIDATE_EVENTS": False,
    "REALTIME_CONTRACT_EXTRA": [],
    "PROGRESS_MIN_INTERVAL_SECONDS": 0.5,
    "REALTIME_EMIT_COUNTERS": True,
    "REALTIME_FASTPATH": True,
    "REALTIME_FASTPATH_VERIFIED_ONLY": True,
    "REALTIME_UVLOOP": False,
    "REALTIME_SERVER_TASKS": ["realtime.revocation.listen", "realtime.outbox.run"],
    "REALTIME_OUTBOX": True,
    "REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS": 0.5,
    "REALTIME_OUTBOX_RELAY_INTERVAL_SECONDS": 0.5,
    "REALTIME_OUTBOX_GRACE_SECONDS": 10.0,
    "REALTIME_OUTBOX_DEDUPE_WINDOW": 1000,
    "REALTIME_OUTBOX_VACUUM_SECONDS": 30.0,
    "REALTIME_ROOMS": {},
    "API_MAX_BODY_BYTES": 256 * 1024,
    "API_MAX_JSON_DEPTH": 20,
    "RQ_DEFAULT_TIMEOUT": 600,
    "RQ_MAX_RETRIES": 2,
    "RQ_JOB_MONITORING_INTERVAL": 5,
    "RQ_MAINTENANCE_INTERVAL": 30,
    "JOBS_LOST_GRACE_SECONDS": 60,
    "JOBS_REAP_INTERVAL_SECONDS": 5,
}


def apply() -> None:
    """Every package setting the host left out gets its default (RQ_QUEUES and RQ follow REDIS_URL)."""
    for name, value in DEFAULTS.items():
        if not hasattr(settings, name):
            setattr(settings, name, value)
    if not hasattr(settings, "RQ_QUEUES"):
        settings.RQ_QUEUES = {
            "default": {
                "URL": settings.REDIS_URL,
                "DEFAULT_TIMEOUT": settings.RQ_DEFAULT_TIMEOUT,
                "SERIALIZER": "rq.serializers.JSONSerializer",
            }
        }
    if not hasattr(settings, "RQ"):
        settings.RQ = {
            "COMMIT_MODE": "on_db_commit",
            "WORKER_CLASS": "jobs.worker.TrackingWorker",
            "QUEUE_CLASS": "jobs.queues.RequestQueue",
        }
