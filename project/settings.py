"""Settings, 12-factor: every value comes from the environment (see README, Configuration).

Bad values fail loudly at start-up (django-environ raises ImproperlyConfigured), and the few
values that are unsafe in production have no silent default there.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def _non_negative(name: str, value: float) -> float:
    if not 0 <= value < float("inf"):  # NaN too
        raise ImproperlyConfigured(f"{name} must be a finite number of seconds, 0 or more (got {value})")
    return value


DEBUG: bool = env.bool("DEBUG", default=False)

_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdef"
SECRET_KEY: str = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")

ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_rq",
    "accounts",
    "realtime",
    "jobs",
    "automation",
    "billing",
    "notifications",
    "ops",
    "axes",  # login throttling: failed attempts per username and per address (admin: Axes)
]

MIDDLEWARE = [
    "realtime.logcontext.RequestIdMiddleware",  # first: every response carries X-Request-ID
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into accounts.throttle's answer
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# Test harness only: the suite's server and worker processes use the test database by name.
if env.str("DATABASE_NAME_OVERRIDE", default=""):
    DATABASES["default"]["NAME"] = env.str("DATABASE_NAME_OVERRIDE")
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the test suite's server and worker processes share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{env.str('TEST_DB_TAG', default='main')}.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Axes first: it refuses a locked-out login before the password is checked (accounts/throttle.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/runs/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The Socket.IO browser client comes from the npm registry (`npm ci`), never from a CDN.
_SOCKETIO_CLIENT_DIST = BASE_DIR / "node_modules" / "socket.io-client" / "dist"
if _SOCKETIO_CLIENT_DIST.is_dir():
    STATICFILES_DIRS.append(("vendor/socket.io-client", _SOCKETIO_CLIENT_DIST))
# AsyncAPI's React component (npm) renders the event contract's HTML docs at /docs/events/.
_ASYNCAPI_REACT = BASE_DIR / "node_modules" / "@asyncapi" / "react-component"
if _ASYNCAPI_REACT.is_dir():
    # the paths the realtime package's wheel serves them at (realtime/static/vendor/, pyproject.toml)
    _standalone = "vendor/@asyncapi/react-component/browser/standalone"
    STATICFILES_DIRS.append((_standalone, _ASYNCAPI_REACT / "browser" / "standalone"))
    STATICFILES_DIRS.append(("vendor/@asyncapi/react-component/styles", _ASYNCAPI_REACT / "styles"))
# static/js/realtime-events.d.ts (generated from the contract: docs/tools/render_contract.py) is
# TypeScript, not the MPEG transport stream whitenoise's `.ts` default says.
WHITENOISE_MIMETYPES = {".ts": "application/typescript; charset=utf-8"}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Redis: one URL for Socket.IO pub/sub, the replay log, RQ and the Channels layer -----------
REDIS_URL: str = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

# The Channels layer is bridged: group_send to a room group (user.5 <-> user:5) also reaches the
# Socket.IO clients in that room, through realtime's emit (realtime/bridge.py).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "realtime.bridge.RealtimeChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

# --- Realtime (Socket.IO) -------------------------------------------------------------------------
# What the realtime package needs from this project (realtime/host.py, docs/adopt.md): who a
# handshake is, who is a project's member, and the project model tracked jobs belong to.
REALTIME_IDENTITY = "accounts.identity.AccountsIdentity"
REALTIME_PROJECTS = "accounts.identity.AccountsProjects"
REALTIME_PROJECT_MODEL = "accounts.Project"
SOCKETIO_ALLOWED_ORIGINS: list[str] = env.list(
    "SOCKETIO_ALLOWED_ORIGINS",
    default=["http://localhost:8000", "http://127.0.0.1:8000"] if DEBUG else [],
)
if not SOCKETIO_ALLOWED_ORIGINS or "*" in SOCKETIO_ALLOWED_ORIGINS:
    # [] would turn python-engineio's origin check off and '*' allows every site.
    raise ImproperlyConfigured("SOCKETIO_ALLOWED_ORIGINS must list the allowed origins explicitly")
SOCKETIO_MAX_HTTP_BUFFER_SIZE: int = env.int("SOCKETIO_MAX_HTTP_BUFFER_SIZE", default=64 * 1024)
# What the server may hold for one connection that has not been sent yet (bytes): the transport's
# unsent writes, python-engineio's packet queue, a /ws/rooms/ connection's pending frames. Over it,
# the connection is closed (4008 slow_consumer, realtime/compat/backpressure.py); the client
# reconnects and the replay log gives it what it missed.
_max_buffered = env.str("SOCKETIO_MAX_BUFFERED_BYTES", default=str(1024 * 1024))
if not (_max_buffered.strip().isascii() and _max_buffered.strip().isdigit() and int(_max_buffered) > 0):
    raise ImproperlyConfigured(
        f"SOCKETIO_MAX_BUFFERED_BYTES must be a whole number of bytes above 0 (got {_max_buffered!r})"
    )
SOCKETIO_MAX_BUFFERED_BYTES: int = int(_max_buffered)
REALTIME_REDIS_POOL_SIZE: int = env.int("REALTIME_REDIS_POOL_SIZE", default=200)  # per server process
SOCKETIO_CHANNEL: str = env.str("SOCKETIO_CHANNEL", default="realtime")
# The Redis of the realtime data (sequence numbers, replay logs, per-room channels, presence and
# process stats; docs/scaling.md). Empty: REDIS_URL. RQ and the Channels layer always use REDIS_URL.
REALTIME_REDIS_URL: str = env.str("REALTIME_REDIS_URL", default="")
# REALTIME_REDIS_URL is a Redis Cluster (any node; the others are discovered): room events use
# SPUBLISH / SSUBSCRIBE (Redis 7 sharded pub/sub), one subscription connection per shard.
REALTIME_REDIS_CLUSTER: bool = env.bool("REALTIME_REDIS_CLUSTER", default=False)
if REALTIME_REDIS_CLUSTER and not REALTIME_REDIS_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(
        "REALTIME_REDIS_CLUSTER=1 needs REALTIME_REDIS_URL, redis://host:port of any node of the cluster "
        "(RQ and the Channels layer can't use a cluster: they keep REDIS_URL)"
    )
SOCKETIO_PING_INTERVAL: int = env.int("SOCKETIO_PING_INTERVAL", default=25)
SOCKETIO_PING_TIMEOUT: int = env.int("SOCKETIO_PING_TIMEOUT", default=20)
# Token bucket per connection for client-to-server events.
SOCKETIO_RATE_LIMIT_PER_SECOND: float = env.float("SOCKETIO_RATE_LIMIT_PER_SECOND", default=20.0)
SOCKETIO_RATE_LIMIT_BURST: int = env.int("SOCKETIO_RATE_LIMIT_BURST", default=40)
# Connection caps (realtime/caps.py), across all server processes: Socket.IO namespace connections
# plus plain /ws/rooms/ connections, per user and per client address. 0 turns a cap off.
SOCKETIO_MAX_CONNECTIONS_PER_USER: int = env.int("SOCKETIO_MAX_CONNECTIONS_PER_USER", default=50)
SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS: int = env.int("SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS", default=500)
if SOCKETIO_MAX_CONNECTIONS_PER_USER < 0 or SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS < 0:
    raise ImproperlyConfigured("SOCKETIO_MAX_CONNECTIONS_PER_USER/_PER_ADDRESS must be 0 (off) or more")
# Admission (realtime/admission.py): handshakes one server process works on at once (authenticate,
# join rooms, replay, greet). Over it, a new connection is refused as retryable (HTTP 503,
# `server_busy`, to a long-polling or WebSocket open) and clients retry on their backoff, so a
# reconnect storm does not stall the connections already served. 0 turns it off.
SOCKETIO_MAX_PENDING_HANDSHAKES: int = env.int("SOCKETIO_MAX_PENDING_HANDSHAKES", default=500)
if SOCKETIO_MAX_PENDING_HANDSHAKES < 0:
    raise ImproperlyConfigured("SOCKETIO_MAX_PENDING_HANDSHAKES must be 0 (off) or more")
# Replay log: per-room Redis stream, bounded by length and by age.
REPLAY_LOG_MAXLEN: int = env.int("REPLAY_LOG_MAXLEN", default=1000)
REPLAY_LOG_MAX_AGE_SECONDS: int = env.int("REPLAY_LOG_MAX_AGE_SECONDS", default=24 * 3600)
# Validate every emitted payload against realtime/contract/events.json (always on in tests).
REALTIME_VALIDATE_EVENTS: bool = env.bool("REALTIME_VALIDATE_EVENTS", default=DEBUG)
# The app's own events, in JSON files merged into realtime/contract/events.json (realtime/contract.py).
REALTIME_CONTRACT_EXTRA: list[str] = env.list("REALTIME_CONTRACT_EXTRA", default=[])
PROGRESS_MIN_INTERVAL_SECONDS: float = env.float("PROGRESS_MIN_INTERVAL_SECONDS", default=0.5)
# Global emit counters in Redis (events published per event name, from every process).
REALTIME_EMIT_COUNTERS: bool = env.bool("REALTIME_EMIT_COUNTERS", default=True)
# Room events encoded once per room and written straight to daphne's connection (realtime/compat/fastpath.py).
REALTIME_FASTPATH: bool = env.bool("REALTIME_FASTPATH", default=True)
# The fast path only with the library versions it was verified with (realtime/compat/guard.py);
# 0: with any versions whose checks pass (`make upgrade-check`).
REALTIME_FASTPATH_VERIFIED_ONLY: bool = env.bool("REALTIME_FASTPATH_VERIFIED_ONLY", default=True)
# Only for `python -m realtime.serve`: daphne on uvloop (measured within noise, so not the default).
REALTIME_UVLOOP: bool = env.bool("REALTIME_UVLOOP", default=False)
# Coroutines `fn(sio)` each server process runs on its loop (ops: its numbers, the stats loop;
# realtime.revocation: applies access revocations to this process's live connections;
# realtime.outbox: the event outbox's relay).
REALTIME_SERVER_TASKS: list[str] = ["ops.loop.run", "realtime.revocation.listen", "realtime.outbox.run"]
# The event outbox (realtime/outbox.py, docs/replay.md): events emitted inside a transaction are
# stored with it and published after the commit; what Redis did not take is published later by
# the relay every server process runs (one at a time). The publish after commit waits for Redis at
# most REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS (then the event is deferred and the request answers).
REALTIME_OUTBOX: bool = env.bool("REALTIME_OUTBOX", default=True)
REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS: float = _non_negative(
    "REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS", env.float("REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS", default=0.5)
)
REALTIME_OUTBOX_RELAY_INTERVAL_SECONDS: float = _non_negative(
    "REALTIME_OUTBOX_RELAY_INTERVAL_SECONDS", env.float("REALTIME_OUTBOX_RELAY_INTERVAL_SECONDS", default=0.5)
)
# A stored event not published (nor deferred) this long after it was written is the relay's: its
# process died between the commit and the publish.
REALTIME_OUTBOX_GRACE_SECONDS: float = _non_negative(
    "REALTIME_OUTBOX_GRACE_SECONDS", env.float("REALTIME_OUTBOX_GRACE_SECONDS", default=10.0)
)
# Per room, the ids of the last N outbox events published, so a retry whose first attempt did run
# (the reply was lost) is not published again under a second sequence number.
REALTIME_OUTBOX_DEDUPE_WINDOW: int = env.int("REALTIME_OUTBOX_DEDUPE_WINDOW", default=1000)
# PostgreSQL: the relay VACUUMs the outbox table this often (every published row is deleted: dead
# rows pile up where autovacuum is off or slow); 0 leaves it to autovacuum.
REALTIME_OUTBOX_VACUUM_SECONDS: float = _non_negative(
    "REALTIME_OUTBOX_VACUUM_SECONDS", env.float("REALTIME_OUTBOX_VACUUM_SECONDS", default=30.0)
)
if REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS <= 0 or REALTIME_OUTBOX_RELAY_INTERVAL_SECONDS <= 0:
    raise ImproperlyConfigured("REALTIME_OUTBOX_REDIS_TIMEOUT_SECONDS and _RELAY_INTERVAL_SECONDS must be above 0")
if REALTIME_OUTBOX_DEDUPE_WINDOW < 1:
    raise ImproperlyConfigured("REALTIME_OUTBOX_DEDUPE_WINDOW must be 1 or more")
# Revocation commands are also stored (realtime.models.RevocationCommand) and read by every server
# this often: one whose publish failed or that a server's subscription missed still takes effect.
REALTIME_REVOCATION_POLL_SECONDS: float = _non_negative(
    "REALTIME_REVOCATION_POLL_SECONDS", env.float("REALTIME_REVOCATION_POLL_SECONDS", default=1.0)
)
REALTIME_REVOCATION_KEEP_SECONDS: float = _non_negative(
    "REALTIME_REVOCATION_KEEP_SECONDS", env.float("REALTIME_REVOCATION_KEEP_SECONDS", default=3600.0)
)
if REALTIME_REVOCATION_POLL_SECONDS <= 0:
    raise ImproperlyConfigured("REALTIME_REVOCATION_POLL_SECONDS must be above 0")
# The Socket.IO Admin UI (python-socketio's instrument()): off unless enabled with credentials.
SOCKETIO_ADMIN_ENABLED: bool = env.bool("SOCKETIO_ADMIN_ENABLED", default=False)
SOCKETIO_ADMIN_USERNAME: str = env.str("SOCKETIO_ADMIN_USERNAME", default="")
SOCKETIO_ADMIN_PASSWORD: str = env.str("SOCKETIO_ADMIN_PASSWORD", default="")

# --- Automation and provisioning ---------------------------------------------------------------------
AUTOMATION_MAX_TICKERS: int = env.int("AUTOMATION_MAX_TICKERS", default=25)
AUTOMATION_RUN_RETRIES: int = env.int("AUTOMATION_RUN_RETRIES", default=1)
AUTOMATION_SWEEP_GRACE_SECONDS: int = env.int("AUTOMATION_SWEEP_GRACE_SECONDS", default=60)
PROVISIONING_BASE_DOMAIN: str = env.str("PROVISIONING_BASE_DOMAIN", default="erp.example.com")
# Worker env (demos and tests): the least pause per ticker / provisioning step; a run's own pace wins when longer.
AUTOMATION_STEP_SECONDS: float = _non_negative(
    "AUTOMATION_STEP_SECONDS", env.float("AUTOMATION_STEP_SECONDS", default=0.0)
)
PROVISIONING_STEP_SECONDS: float = _non_negative(
    "PROVISIONING_STEP_SECONDS", env.float("PROVISIONING_STEP_SECONDS", default=0.0)
)

# --- Ops ------------------------------------------------------------------------------------------
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")  # Bearer token for /metrics (or a staff session)
# Intervals shorter than half a second are raised to 0.5 s (the statistics loop's floor).
OPS_STATS_INTERVAL_SECONDS: float = max(0.5, env.float("OPS_STATS_INTERVAL_SECONDS", default=5.0))
OPS_PROCESS_INTERVAL_SECONDS: float = max(0.5, env.float("OPS_PROCESS_INTERVAL_SECONDS", default=2.0))
# The last server errors kept in Redis for the ops page (ops/errorlog.py).
OPS_RECENT_ERRORS: bool = env.bool("OPS_RECENT_ERRORS", default=True)

# --- JSON API (realtime/http.py) ------------------------------------------------------------------
API_MAX_BODY_BYTES: int = env.int("API_MAX_BODY_BYTES", default=256 * 1024)  # larger: 413 body_too_large
CSRF_FAILURE_VIEW = "project.errors.csrf_failure"  # JSON under the API, Django's page elsewhere
API_MAX_JSON_DEPTH: int = env.int("API_MAX_JSON_DEPTH", default=20)  # deeper: 400 too_deep

# --- Login throttling (django-axes; accounts/throttle.py) -------------------------------------------
# After LOGIN_FAILURE_LIMIT failed logins for one username, or from one address, that username or
# address is locked out for LOGIN_LOCKOUT_SECONDS (each failure meanwhile starts the wait again):
# POST /api/auth/token answers 429 JSON with Retry-After, the login page an HTML page.
AXES_ENABLED: bool = env.bool("LOGIN_THROTTLE_ENABLED", default=True)
AXES_FAILURE_LIMIT: int = env.int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_LOCKOUT_SECONDS: int = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT_SECONDS)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_LOCKOUT_CALLABLE = "accounts.throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_address"
# AXES_RESET_ON_SUCCESS stays off: a login to one's own account would clear the address's
# failures against every other username.

# --- Auth tokens ----------------------------------------------------------------------------------
JWT_SECRET: str = env.str("JWT_SECRET", default=SECRET_KEY)
JWT_ALGORITHM = "HS256"  # pinned: never taken from the token
JWT_AUDIENCE: str = env.str("JWT_AUDIENCE", default="realtime-clients")
JWT_ISSUER: str = env.str("JWT_ISSUER", default="realtime-server")
JWT_TTL_SECONDS: int = env.int("JWT_TTL_SECONDS", default=3600)

# --- RQ -------------------------------------------------------------------------------------------
RQ_DEFAULT_TIMEOUT: int = env.int("RQ_DEFAULT_TIMEOUT", default=600)
RQ_MAX_RETRIES: int = env.int("RQ_MAX_RETRIES", default=2)
# Worker heartbeat and dead-worker reaping, seconds (jobs/worker.py).
RQ_JOB_MONITORING_INTERVAL: int = env.int("RQ_JOB_MONITORING_INTERVAL", default=5)
RQ_MAINTENANCE_INTERVAL: int = env.int("RQ_MAINTENANCE_INTERVAL", default=30)
# Billing jobs' queue and their retries with back-off, one retry per interval (seconds): Python settings only.
BILLING_QUEUE: str = "default"
BILLING_RETRY_INTERVALS: list[int] = [5, 30, 120]
BILLING_CRON_INTERVAL_SECONDS: int = env.int("BILLING_CRON_INTERVAL_SECONDS", default=3600)  # expiry checks
# A keyless seed 000 request repeated within this many seconds is the first one again (billing/dedupe.py).
BILLING_DEDUPE_WINDOW_SECONDS: int = env.int("BILLING_DEDUPE_WINDOW_SECONDS", default=30)
RQ_QUEUES = {
    "default": {
        "URL": REDIS_URL,
        "DEFAULT_TIMEOUT": RQ_DEFAULT_TIMEOUT,
        "SERIALIZER": "rq.serializers.JSONSerializer",
    },
}
# A tracked job whose RQ job vanished from Redis is failed after this long (jobs/reaper.py).
JOBS_LOST_GRACE_SECONDS: int = env.int("JOBS_LOST_GRACE_SECONDS", default=60)
# How often runcron has a worker reap dead workers' jobs and locks and sweep lost jobs (jobs/cron.py):
# a job of a worker killed mid-job runs again within about this plus 3 heartbeats.
JOBS_REAP_INTERVAL_SECONDS: int = env.int("JOBS_REAP_INTERVAL_SECONDS", default=5)
RQ = {
    "COMMIT_MODE": "on_db_commit",
    "WORKER_CLASS": "jobs.worker.TrackingWorker",
    # every job carries the request id of the request that enqueued it (jobs/queues.py)
    "QUEUE_CLASS": "jobs.queues.RequestQueue",
}

# --- Production hardening (`manage.py check --deploy`) -------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE: bool = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE: bool = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# Production (DEBUG off) is HTTPS only: redirect, and HSTS for a year, each switchable by the
# environment. TLS ends at the load balancer, which sets X-Forwarded-Proto (docs/scaling.md);
# /healthz answers over plain HTTP for its health checks, and /metrics (token or staff
# protected) for a Prometheus that scrapes the processes directly (docs/ops.md).
SECURE_SSL_REDIRECT: bool = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS: int = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD: bool = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line carries request_id= (and job= inside an RQ job): realtime/logcontext.py.
    "filters": {"context": {"()": "realtime.logcontext.LogContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(ids)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "engineio": {"level": "WARNING"},
        "socketio": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},  # its version banner on every start, manage.py included
        "realtime.events": {"level": env.str("LOG_EVENTS_LEVEL", default="INFO")},
    },
}
