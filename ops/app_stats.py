"""Application statistics: the numbers apps put in `statistics_update`, next to the ops numbers.

Seed 001's dashboard reads its application's own numbers (`total_attempts`, `successful_votes`,
`failed_votes`) from `statistics_update`. An app contributes them in either of two ways:

    from ops import app_stats

    app_stats.incr("successful_votes")          # a counter, from any process (Redis HINCRBY)

    @app_stats.provider("votes")                # or a callable, run by the statistics loop
    def vote_numbers() -> dict[str, int | float]:
        return {"total_attempts": Attempt.objects.count()}

and declares each field in a REALTIME_CONTRACT_EXTRA file (`{"fields": [{"event":
"statistics_update", "properties": {"total_attempts": {"type": "integer"}}}]}`, see
realtime/contract.py). A number whose name is not declared, or is already an ops field, or
is given by two sources, is left out and logged (once per name): it never replaces an ops
number and never makes the whole update fail its contract.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from ops import keys
from realtime import contract
from realtime.redis import async_client, sync_client

log = logging.getLogger(__name__)

EVENT = "statistics_update"
Provider = Callable[[], Mapping[str, int | float]]

_providers: dict[str, Provider] = {}
_warned: set[tuple[str, str]] = set()


def provider(name: str) -> Callable[[Provider], Provider]:
    """Register `fn` under `name` (an app's label): it is called on each statistics_update."""

    def decorate(fn: Provider) -> Provider:
        _providers[name] = fn
        return fn

    return decorate


def unregister(name: str) -> None:
    _providers.pop(name, None)


def incr(name: str, amount: int = 1) -> int:
    """Add `amount` to the app counter `name` (shared by every process); returns its new value."""
    return int(sync_client().hincrby(keys.APP_COUNTERS, name, amount))


async def aincr(name: str, amount: int = 1) -> int:
    return int(await async_client().hincrby(keys.APP_COUNTERS, name, amount))


def reset(name: str) -> None:
    sync_client().hdel(keys.APP_COUNTERS, name)


def _skip(name: str, source: str, why: str) -> None:
    if (name, why) not in _warned:
        _warned.add((name, why))
        log.warning("app statistics: %r from %s left out of %s: %s", name, source, EVENT, why)


def collect(reserved: set[str], redis: Any | None = None) -> dict[str, int | float]:
    """Every app number that may go into statistics_update next to the `reserved` (ops) fields."""
    declared = contract.app_fields(EVENT)
    sources: list[tuple[str, Mapping[str, Any]]] = []
    counters = (redis or sync_client()).hgetall(keys.APP_COUNTERS)
    sources.append(("counters", {k.decode(): int(v) for k, v in counters.items()}))
    for name, fn in list(_providers.items()):
        try:
            sources.append((f"provider {name}", fn()))
        except Exception:
            log.exception("app statistics provider %s failed", name)
    out: dict[str, int | float] = {}
    for source, values in sources:
        for name, value in values.items():
            if name in reserved:
                _skip(name, source, "an ops field has that name")
            elif name in out:
                _skip(name, source, "another source gives it too")
            elif name not in declared:
                _skip(name, source, "not declared in a REALTIME_CONTRACT_EXTRA file")
            elif not isinstance(value, numbers.Real) or isinstance(value, bool):
                _skip(name, source, f"not a number ({type(value).__name__})")
            else:
                out[name] = value
    return out
