"""Deterministic daily prices for the tickers the project ships (data/universe.csv): the same
ticker always gives the same series, with no network. A random walk seeded by the ticker."""

from __future__ import annotations

import csv
import functools
import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

UNIVERSE_PATH = Path(__file__).with_name("data") / "universe.csv"
SERIES_DAYS = 120
SERIES_END = date(2026, 1, 30)


class NoPriceData(LookupError):
    """The ticker is not in the universe the project ships."""


@dataclass(frozen=True)
class Listing:
    ticker: str
    name: str
    sector: str
    base_price: float


@functools.cache
def universe() -> dict[str, Listing]:
    with UNIVERSE_PATH.open(newline="") as handle:
        return {
            row["ticker"]: Listing(row["ticker"], row["name"], row["sector"], float(row["base_price"]))
            for row in csv.DictReader(handle)
        }


def listing(ticker: str) -> Listing:
    try:
        return universe()[ticker]
    except KeyError:
        raise NoPriceData(f"no price data for {ticker}") from None


def daily_closes(ticker: str, days: int = SERIES_DAYS) -> list[tuple[date, float]]:
    """`days` closing prices ending on SERIES_END, oldest first."""
    base = listing(ticker).base_price
    seed = int.from_bytes(hashlib.sha256(ticker.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    price, out = base, []
    for offset in range(days):
        price = max(1.0, price * (1 + rng.gauss(0.0004, 0.018)))
        out.append((SERIES_END - timedelta(days=days - 1 - offset), round(price, 2)))
    return out
