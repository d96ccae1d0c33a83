"""automation_progress is throttled the way seed 003 wanted, done right: at most one per interval,
the latest state is delivered when the interval ends (never lost), and terminal stages go out at
once, after anything pending."""

from __future__ import annotations

import pytest

from automation import services
from automation.events import ProgressReporter
from automation.tests.helpers import in_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_coalesces_but_never_loses_the_latest_or_the_terminal_state(world, profile, connect, private_queue):
    alice = connect(world.token(world.alice))
    run = services.start_run(owner=world.alice, tickers=["AAPL"], profile_id=profile.pk, queue=private_queue.name)
    room = f"run:{run.pk}"
    alice.call("subscribe", {"room": room})
    reporter = ProgressReporter(run, min_interval=0.3)
    for percent in range(0, 50):
        reporter.report("processing", f"step {percent}", percent)
    # The first went out at once; the latest of the rest arrives when the interval ends.
    latest = alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["percent"] == 49, timeout=5)
    assert latest["message"] == "step 49"
    sent = [
        d["percent"] for d in alice.received("automation_progress") if in_room(room)(d) and d["stage"] != "initializing"
    ]
    assert sent == [0, 49], sent
    assert reporter._throttle.coalesced == 48

    for percent in range(50, 60):
        reporter.report("processing", f"step {percent}", percent)
    reporter.report("complete", "done", 100)  # terminal: at once, not held back
    final = alice.wait_for("automation_progress", lambda d: in_room(room)(d) and d["stage"] == "complete", timeout=2)
    assert final["percent"] == 100
    sent = [
        d["percent"] for d in alice.received("automation_progress") if in_room(room)(d) and d["stage"] != "initializing"
    ]
    assert sent[-1] == 100 and len(sent) <= 4, sent
    reporter.flush()
