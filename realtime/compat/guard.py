"""Whether the fast path (realtime.compat.fastpath) may run in this process, decided once at start.

It runs when REALTIME_FASTPATH is on, the libraries it reaches into are the versions it was
verified with (`VERIFIED_WITH`, the pins in requirements.txt; REALTIME_FASTPATH_VERIFIED_ONLY=0
accepts any version whose checks pass, for `make upgrade-check`), and every inventory item it
relies on (realtime/compat/inventory.py, `fastpath=True`) passes its check against the installed
version. Otherwise python-socketio's own path is used, with one warning naming the reason."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from realtime.compat import inventory
from realtime.compat.internals import problem, version

log = logging.getLogger(__name__)

# The versions the fast path was verified with (the suite on both paths, bench/run.py). A test
# holds this to requirements.txt: a new pin means running the suite and the benchmark again.
VERIFIED_WITH = {
    "python-socketio": "5.18.1",
    "python-engineio": "4.15.1",
    "daphne": "4.2.3",
    "autobahn": "26.10.2",
    "Twisted": "26.10.0",
    "channels": "4.3.2",
}


@dataclass(frozen=True)
class Decision:
    active: bool
    reason: str | None  # why not (None when active)


def why_not(enabled: bool, verified_only: bool) -> str | None:
    """Why the fast path must not run here, or None."""
    if not enabled:
        return "REALTIME_FASTPATH=0"
    if verified_only:
        for dist, verified in VERIFIED_WITH.items():
            installed = version(dist)
            if installed != verified:
                return (
                    f"{dist} {installed} is installed, the fast path was verified with {verified} "
                    "(REALTIME_FASTPATH_VERIFIED_ONLY=0 runs it after its checks pass)"
                )
    for item in inventory.ITEMS:
        if item.fastpath:
            failed = problem(item)
            if failed is not None:
                return f"check failed: {failed}"
    return None


def decide() -> Decision:
    reason = why_not(settings.REALTIME_FASTPATH, settings.REALTIME_FASTPATH_VERIFIED_ONLY)
    if reason is not None and settings.REALTIME_FASTPATH:
        log.warning("realtime fast path off, python-socketio's own delivery instead: %s", reason)
    return Decision(active=reason is None, reason=reason)
