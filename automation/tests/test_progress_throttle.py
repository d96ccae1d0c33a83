"""automation_progress is throttled the way seed 003 wanted, done right: at most one per interval,
the latest state is delivered when the interval ends (never lost), and terminal stages go out at
once, after anything pending.

What is asserted holds however slowly the machine runs (no "50 calls within 0.3 s"): the first
value is sent at once, sends are at least an interval apart, a burst of E seconds sends at most
E / interval + 2 values (exactly the first and the last when it takes under an interval, which
is the usual case), every value is either sent or replaced by a later one, the latest is
delivered, and a terminal stage is sent within the call that reports it."""

from __future__ import annotations

import time

import pytest

from automation import services
from automation.events import ProgressReporter
from automation.tests.helpers import in_room

pytestmark = pytest.mark.django_db(transaction=True)

INTERVAL = 0.3


class RecordingReporter(ProgressReporter):
    """The job's reporter, noting when each payload leaves the throttle (and still sending it)."""

    def __init__(self, run) -> None:
        super().__init__(run, min_interval=INTERVAL)
        self.sends: list[tuple[float, str, int]] = []

    def _send(self, payload) -> None:
        # The throttle's own clock reading for this send (taken under its lock just before it
        # calls us): exact however late this thread gets to run.
        self.sends.append((self._throttle._last, payload["stage"], payload["percent"]))
        super()._send(payload)


def burst(reporter: RecordingReporter, percents: range) -> float:
    """Report one value per percent as fast as possible; the time that took."""
    began = time.monotonic()
    for percent in percents:
        reporter.report("processing", f"step {percent}", percent)
    return time.monotonic() - began


def assert_throttled(reporter: RecordingReporter, elapsed: float, first: int, last: int) -> None:
    percents = [p for _, _, p in reporter.sends]
    assert percents[0] == first and percents[-1] == last, percents  # first at once, latest not lost
    assert percents == sorted(set(percents)), percents  # in order, none twice
    times = [t for t, _, _ in reporter.sends]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(gap >= INTERVAL - 0.001 for gap in gaps), gaps  # never faster than the interval
    assert len(percents) <= int(elapsed / INTERVAL) + 2, (percents, elapsed)  # coalesced, not just delayed


def test_it_coalesces_but_never_loses_the_latest_or_the_terminal_state(world, profile, connect, private_queue):
    alice = connect(world.token(world.alice))
    run = services.start_run(owner=world.alice, tickers=["AAPL"], profile_id=profile.pk, queue=private_queue.name)
    room = f"run:{run.pk}"
    alice.call("subscribe", {"room": room})

    def received() -> list[int]:
        return [
            d["percent"]
            for d in alice.received("automation_progress")
            if in_room(room)(d) and d["stage"] != "initializing"
        ]

    reporter = RecordingReporter(run)
    reporter.report("processing", "step 0", 0)
    assert [p for _, _, p in reporter.sends] == [0]  # the first goes out within the call
    elapsed = burst(reporter, range(1, 50))
    # The latest of the rest arrives when the interval ends.
    latest = alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["percent"] == 49, timeout=5)
    assert latest["message"] == "step 49"
    assert_throttled(reporter, elapsed, 0, 49)
    throttle = reporter._throttle
    assert throttle.sent == len(reporter.sends) and throttle.sent + throttle.coalesced == 50
    assert received() == [p for _, _, p in reporter.sends]  # what left the throttle, all delivered, in order

    sent_before = len(reporter.sends)
    elapsed = burst(reporter, range(50, 60))
    reporter.report("complete", "done", 100)  # terminal: at once, not held back
    assert reporter.sends[-1][1:] == ("complete", 100)  # sent within the call, replacing what was pending
    assert throttle.sent + throttle.coalesced == 50 + 10 + 1
    final = alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=5)
    assert final["percent"] == 100
    reporter.flush()
    reporter.report("processing", "after the end", 99)  # nothing follows a terminal stage
    assert reporter.sends[-1][1:] == ("complete", 100)
    sent = received()
    assert sent == [p for _, _, p in reporter.sends] and sent[-1] == 100, sent
    # The burst coalesced (usually: 50 at once, 51-59 replaced by the terminal), then the terminal.
    assert len(sent) - sent_before <= int(elapsed / INTERVAL) + 2, (sent, elapsed)
