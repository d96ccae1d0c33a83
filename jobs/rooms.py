"""The job room and the project snapshot (the current state of a project's jobs)."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from jobs.models import JobRecord
from realtime import rooms
from realtime.auth import Identity


@sync_to_async
def _project_jobs(project_id: int) -> list[dict]:
    return [r.as_state() for r in JobRecord.objects.filter(project_id=project_id).order_by("-created_at")[:100]]


async def project_snapshot(identity: Identity, key: str) -> dict:
    return {"project_id": int(key), "jobs": await _project_jobs(int(key))}


async def may_see_job(identity: Identity, key: str) -> bool:
    record = await JobRecord.objects.filter(pk=key[:64]).afirst()
    if record is None:
        return False
    if record.user_id == identity.user_id:
        return True
    return record.project_id is not None and await rooms.is_project_member(identity, str(record.project_id))


@sync_to_async
def _job_state(key: str) -> dict:
    return {"job": JobRecord.objects.get(pk=key).as_state()}


async def job_snapshot(identity: Identity, key: str) -> dict:
    return await _job_state(key)


rooms.register("project", authorize=rooms.is_project_member, snapshot=project_snapshot)
rooms.register("job", authorize=may_see_job, snapshot=job_snapshot)
