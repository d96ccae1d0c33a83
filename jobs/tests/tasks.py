"""Job functions the tests enqueue (imported by real workers as jobs.tests.tasks)."""

from __future__ import annotations

from jobs.progress import get_progress_tracker


def progress_then_return(*, parts: int = 3, fail: bool = False) -> dict:
    """Reports `parts` steps inside one throttle interval and ends without mark_complete: every
    step after the first is still pending in the throttle when the job ends."""
    tracker = get_progress_tracker(min_interval=60)
    for step in range(1, parts + 1):
        tracker.set_progress(100 * step / parts, f"part {step}")
    if fail:
        raise RuntimeError("failed after its last part")
    return {"parts": parts}
