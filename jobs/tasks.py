"""Job functions. They fetch their inputs, do the work, report progress; their lifecycle
(queued, running, success, error) is reported for them."""

from __future__ import annotations

import time

from jobs.progress import get_progress_tracker


def demo_job(*, steps: int = 10, step_seconds: float = 0.2, fail_at: int | None = None) -> dict:
    """A job that takes `steps` steps and reports each (the demo and the end-to-end tests).

    Safe to run twice, as every tracked job must be (it is retried, and enqueued again when
    Redis lost its queue state): it changes nothing but its own record's progress and result."""
    tracker = get_progress_tracker()
    for step in range(1, steps + 1):
        time.sleep(step_seconds)  # the work this demo stands for
        if fail_at == step:
            raise RuntimeError(f"demo failure at step {step}")
        tracker.set_progress(100 * step / steps, f"step {step} of {steps}")
    tracker.flush()
    return {"steps": steps}
