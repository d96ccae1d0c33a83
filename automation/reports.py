"""A stock report built from the shipped price data: trend, moving averages, range, volatility."""

from __future__ import annotations

import statistics
from typing import Any

from automation.prices import daily_closes, listing


def _pct(new: float, old: float) -> float:
    return round(100 * (new - old) / old, 2)


def generate_report(ticker: str) -> dict[str, Any]:
    """Raises prices.NoPriceData for a ticker outside the universe."""
    info = listing(ticker)
    series = daily_closes(ticker)
    closes = [c for _, c in series]
    last = closes[-1]
    sma20 = round(statistics.fmean(closes[-20:]), 2)
    sma50 = round(statistics.fmean(closes[-50:]), 2)
    returns = [(b - a) / a for a, b in zip(closes[-31:-1], closes[-30:], strict=True)]
    volatility = round(statistics.pstdev(returns) * (252**0.5) * 100, 1)
    change_30d = _pct(last, closes[-31])
    trend = "uptrend" if sma20 > sma50 else "downtrend"
    summary = (
        f"{info.name} ({ticker}, {info.sector}) closed at {last:.2f} on {series[-1][0].isoformat()}, "
        f"{change_30d:+.2f}% over 30 days. The 20-day average ({sma20:.2f}) is "
        f"{'above' if trend == 'uptrend' else 'below'} the 50-day ({sma50:.2f}): {trend}. "
        f"Annualised volatility {volatility}%."
    )
    return {
        "ticker": ticker,
        "name": info.name,
        "sector": info.sector,
        "as_of": series[-1][0].isoformat(),
        "last_close": last,
        "change_30d_pct": change_30d,
        "sma20": sma20,
        "sma50": sma50,
        "high_120d": max(closes),
        "low_120d": min(closes),
        "volatility_pct": volatility,
        "trend": trend,
        "summary": summary,
    }
