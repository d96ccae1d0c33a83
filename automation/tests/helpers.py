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


def assert_published_exactly_once(run) -> None:
    """Every ticker of the run is published, once, in the order given."""
    from automation.models import Publication

    states = list(run.ticker_states.order_by("position"))
    assert [s.status for s in states] == ["published"] * len(run.tickers), [(s.ticker, s.status) for s in states]
    posts = list(Publication.objects.filter(run=run).order_by("pk"))
    assert [p.ticker for p in posts] == run.tickers  # one post per ticker, none twice, in order
    assert {s.published_id for s in states} == {f"local-{p.pk}" for p in posts}
