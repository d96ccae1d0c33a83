"""Periodic billing work, collected by project/cron.py (`manage.py runcron project.cron`).

Both functions are safe to run as often as the scheduler likes: warnings are recorded per
threshold and billing period (ExpiryWarning), expiry is a status change made once."""

from __future__ import annotations

from datetime import date

from django.conf import settings

from billing.subscriptions import expire_lapsed, warn_expiring


def warn_expiring_subscriptions(today: str | None = None) -> int:
    """`today` (ISO date, JSON-friendly) is for replaying the schedule in tests; the scheduler omits it."""
    return warn_expiring(today=date.fromisoformat(today) if today else None)


def expire_lapsed_subscriptions(today: str | None = None) -> int:
    return expire_lapsed(today=date.fromisoformat(today) if today else None)


def register_cron(register) -> None:
    interval = settings.BILLING_CRON_INTERVAL_SECONDS
    register(warn_expiring_subscriptions, queue_name="default", interval=interval, job_timeout=300)
    register(expire_lapsed_subscriptions, queue_name="default", interval=interval, job_timeout=300)
