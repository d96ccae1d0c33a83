"""The counts fault and replay tests record (events sent, received, replayed, duplicates dropped...)."""

from __future__ import annotations

import time

from testing import LOG_DIR

COUNTS_FILE = LOG_DIR / "fault-counts.txt"

# The count lines recorded in this run (the root conftest prints them at the end of it).
recorded: list[str] = []


def record_counts(test: str, counts: dict[str, object]) -> str:
    """Record a test's counts: printed in the run's terminal summary (so CI shows them without -s)
    and appended to var/test-logs/fault-counts.txt (an absolute path: the suite may run from any
    directory)."""
    line = f"{test}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
    print(line)
    recorded.append(line)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with COUNTS_FILE.open("a") as handle:
        handle.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + line + "\n")
    return line
