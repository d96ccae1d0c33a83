"""Ops settings (defaults and the 0.5 s floor in project/settings.py; a test starts a server
process with other values through its environment)."""

from __future__ import annotations

from django.conf import settings


def stats_interval() -> float:
    """Seconds between two statistics_update events to the staff room."""
    return settings.OPS_STATS_INTERVAL_SECONDS


def process_interval() -> float:
    """Seconds between two publications of a server process's own numbers."""
    return settings.OPS_PROCESS_INTERVAL_SECONDS


def metrics_token() -> str:
    """Bearer token a Prometheus scraper sends to /metrics (empty: staff session only)."""
    return settings.METRICS_TOKEN
