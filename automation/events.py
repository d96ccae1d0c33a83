"""The automation events of seed 003, sent to the owner's room and the run's room.

`ProgressReporter` throttles `automation_progress` (realtime.throttle: at most one per interval,
the latest state is delivered when the interval ends, terminal and per-ticker outcomes are never
throttled)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from automation.models import AutomationRun
from realtime.emit import emit, run_room, user_room
from realtime.throttle import Throttle

TERMINAL_STAGES = {"complete", "error", "paused", "cancelled"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def rooms_of(run: AutomationRun) -> list[str]:
    return [user_room(run.owner_id), run_room(run.pk)]


def send(run: AutomationRun, event: str, payload: dict[str, Any]) -> None:
    for room in rooms_of(run):
        emit(event, payload, room=room)


def progress_payload(
    run: AutomationRun, stage: str, message: str, percent: int | None = None, data: dict | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"stage": stage, "message": message, "timestamp": now_iso(), "automation_id": run.pk}
    if percent is not None:
        payload["percent"] = min(max(int(percent), 0), 100)
    if data:
        payload["data"] = data
    return payload


def send_progress(run: AutomationRun, stage: str, message: str, percent: int | None = None, **data: Any) -> None:
    send(run, "automation_progress", progress_payload(run, stage, message, percent, data))


def send_error(run: AutomationRun, error_type: str, message: str, *, recoverable: bool, ticker: str = "") -> None:
    payload: dict[str, Any] = {
        "error_type": error_type,
        "message": message,
        "recoverable": recoverable,
        "timestamp": now_iso(),
        "automation_id": run.pk,
    }
    if ticker:
        payload["ticker"] = ticker
    send(run, "automation_error", payload)


def send_paused(run: AutomationRun, message: str) -> None:
    send(run, "automation_paused", {"message": message, "automation_id": run.pk})


def send_resumed(run: AutomationRun, message: str, remaining: int) -> None:
    send(run, "automation_resumed", {"message": message, "automation_id": run.pk, "remaining_count": remaining})


def send_cancelled(run: AutomationRun, message: str) -> None:
    send(run, "automation_cancelled", {"message": message, "automation_id": run.pk})


class ProgressReporter:
    """What a running job uses: `report(stage, message, percent, force=..., **data)`.

    Once a terminal stage has been reported (or the reporter discarded), it sends nothing more:
    a terminal event is always the last progress event of a job."""

    def __init__(self, run: AutomationRun, min_interval: float | None = None) -> None:
        self.run = run
        self.closed = False
        interval = settings.PROGRESS_MIN_INTERVAL_SECONDS if min_interval is None else min_interval
        self._throttle = Throttle(self._send, interval)

    def _send(self, payload: dict[str, Any]) -> None:
        if not self.closed or payload["stage"] in TERMINAL_STAGES:
            send(self.run, "automation_progress", payload)

    def report(self, stage: str, message: str, percent: int | None = None, *, force: bool = False, **data: Any) -> None:
        if self.closed:
            return
        payload = progress_payload(self.run, stage, message, percent, data)
        terminal = stage in TERMINAL_STAGES
        if terminal:
            self.closed = True  # a pending throttled event is replaced, not sent after this one
        self._throttle.submit(payload, force=force or terminal)

    def flush(self) -> None:
        self._throttle.flush()

    def discard(self) -> None:
        """Drop what is pending and send nothing more (the job lost its run)."""
        self.closed = True
        self._throttle.flush()  # the pending value goes to _send, which drops it
