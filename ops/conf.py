"""Ops settings, read with getattr (project/settings.py may define them) and falling back to the
environment, so a test can start a server process with other values."""

from __future__ import annotations

import os

from django.conf import settings


def _raw(name: str, default: str) -> str:
    value = getattr(settings, name, None)
    return str(value) if value is not None else os.environ.get(name, default)


def stats_interval() -> float:
    """Seconds between two statistics_update events to the staff room."""
    return max(0.5, float(_raw("OPS_STATS_INTERVAL_SECONDS", "5")))


def process_interval() -> float:
    """Seconds between two publications of a server process's own numbers."""
    return max(0.5, float(_raw("OPS_PROCESS_INTERVAL_SECONDS", "2")))


def metrics_token() -> str:
    """Bearer token a Prometheus scraper sends to /metrics (empty: staff session only)."""
    return _raw("METRICS_TOKEN", "")
