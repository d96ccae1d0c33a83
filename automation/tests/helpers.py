"""Small helpers shared by the automation tests."""

from __future__ import annotations

from typing import Any


def in_room(room: str):
    """Predicate: the event came through `room` (events go to both the user and the run room)."""
    return lambda d: d["_meta"]["room"] == room


def published_event(room: str, ticker: str | None = None):
    def match(d: dict[str, Any]) -> bool:
        data = d.get("data") or {}
        return d["_meta"]["room"] == room and data.get("status") == "published" and ticker in (None, data["ticker"])

    return match


def assert_published_exactly_once(run, attempts: dict[str, int] | None = None) -> None:
    """Every ticker of the run is published, once, in the order given, from the database: one
    Publication per ticker (their ids in ticker order), published one after the other, and each
    ticker attempted once, or as often as `attempts` says (a ticker a killed worker was on)."""
    from django.db.models import Count

    from automation.models import Publication

    states = list(run.ticker_states.order_by("position"))
    assert [s.status for s in states] == ["published"] * len(run.tickers), [(s.ticker, s.status) for s in states]
    assert [s.ticker for s in states] == run.tickers
    posts = list(Publication.objects.filter(run=run).order_by("pk"))
    assert [p.ticker for p in posts] == run.tickers  # one post per ticker, none twice, in order
    per_ticker = dict(Publication.objects.filter(run=run).values_list("ticker").annotate(n=Count("pk")))
    assert per_ticker == dict.fromkeys(run.tickers, 1), per_ticker
    assert [s.published_id for s in states] == [f"local-{p.pk}" for p in posts]
    times = [s.published_at for s in states]
    assert times == sorted(times), [(s.ticker, s.published_at) for s in states]
    expected = {t: 1 for t in run.tickers} | (attempts or {})
    assert {s.ticker: s.attempts for s in states} == expected
