"""The job events of seed 002 (`agent_status`, `agent_progress`), built from a JobRecord."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.models import JobRecord
from realtime.emit import emit, job_room, project_room, user_room


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def rooms_for(record: JobRecord) -> list[str]:
    rooms = [job_room(record.pk)]
    if record.project_id:
        rooms.append(project_room(record.project_id))
    elif record.user_id:
        rooms.append(user_room(record.user_id))
    return rooms


def emit_status(record: JobRecord) -> None:
    payload = {
        "job_id": str(record.pk),
        "status": record.status,
        "timestamp": now_iso(),
        "event": "status_change",
        "result": record.result,
        "error": record.error or None,
    }
    for room in rooms_for(record):
        emit("agent_status", payload, room=room)


def emit_progress(record: JobRecord) -> None:
    payload = {
        "job_id": str(record.pk),
        "progress": record.progress,
        "timestamp": now_iso(),
        "event": "progress_update",
        "message": record.message or None,
    }
    for room in rooms_for(record):
        emit("agent_progress", payload, room=room)
