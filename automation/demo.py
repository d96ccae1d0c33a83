"""Demo data: a publishing profile for each demo user, and one finished run for alice so the
runs page is not empty (`manage.py seed_demo`)."""

from __future__ import annotations

from django.utils import timezone

from automation.jobs import publication_key
from automation.models import AutomationRun, Publication, PublishingProfile, TickerState
from automation.reports import generate_report

DEMO_TICKERS = ["AAPL", "MSFT", "NVDA"]


def seed(users: dict) -> list[str]:
    profiles = {}
    for name in ("alice", "bob", "carol", "ops"):
        if name in users:
            profiles[name], _ = PublishingProfile.objects.get_or_create(
                owner=users[name], name="Demo publication store"
            )
    alice = users.get("alice")
    if alice is not None and not AutomationRun.objects.filter(owner=alice).exists():
        run = AutomationRun.objects.create(
            owner=alice,
            profile=profiles["alice"],
            tickers=DEMO_TICKERS,
            status=AutomationRun.Status.COMPLETED,
            stage="complete",
            percent=100,
            message=f"Automation complete: {len(DEMO_TICKERS)} published, 0 failed",
            started_at=timezone.now(),
            finished_at=timezone.now(),
        )
        for position, ticker in enumerate(DEMO_TICKERS):
            report = generate_report(ticker)
            post = Publication.objects.create(
                key=publication_key(run, ticker),
                profile=profiles["alice"],
                run=run,
                ticker=ticker,
                title=f"{report['name']} ({ticker})",
                body=report["summary"],
            )
            TickerState.objects.create(
                run=run,
                ticker=ticker,
                position=position,
                status=TickerState.Status.PUBLISHED,
                report=report,
                published_id=f"local-{post.pk}",
                published_at=timezone.now(),
                attempts=1,
            )
    return ["  automation: a publishing profile per user; runs at /runs/ (log in as alice)"]
