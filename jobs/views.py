from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from jobs.models import JobRecord
from jobs.services import enqueue_tracked
from realtime import host
from realtime.http import ApiError, api_view, json_body
from realtime.projects import UnknownProject


def _member_project(request: HttpRequest, project_ref: str) -> Any:
    """The project named by `project_ref` (the host's REALTIME_PROJECTS rules), if the user is a member."""
    rules = host.projects()
    try:
        project_id = rules.resolve(project_ref, host.identity().tenant_of(request.user))
    except UnknownProject:
        project_id = None
    project = rules.member_project(request.user.pk, project_id) if project_id else None
    if project is None:
        raise ApiError(404, "no such project, or you are not a member", "not_found")
    return project


@api_view(("GET",))
def project_jobs(request: HttpRequest, project_id: str) -> JsonResponse:
    """The project's jobs as stored: what a client reloads after `resync_required`."""
    project = _member_project(request, project_id)
    jobs = [r.as_state() for r in JobRecord.objects.filter(project=project)[:100]]
    return JsonResponse({"project_id": project.pk, "jobs": jobs})


@api_view(("POST",))
def start_demo_job(request: HttpRequest, project_id: str) -> JsonResponse:
    project = _member_project(request, project_id)
    body = json_body(request)
    steps = body.get("steps", 10)
    step_seconds = body.get("step_seconds", 0.2)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 1000:
        raise ApiError(400, "steps must be an integer from 1 to 1000", "invalid_input")
    if not isinstance(step_seconds, (int, float)) or not 0 <= step_seconds <= 5:
        raise ApiError(400, "step_seconds must be a number from 0 to 5", "invalid_input")
    fail_at = body.get("fail_at")
    if fail_at is not None and (not isinstance(fail_at, int) or not 1 <= fail_at <= steps):
        raise ApiError(400, "fail_at must be a step number", "invalid_input")
    record = enqueue_tracked(
        "jobs.tasks.demo_job",
        kind="demo",
        project=project,
        user=request.user,
        kwargs={"steps": steps, "step_seconds": step_seconds, "fail_at": fail_at},
    )
    return JsonResponse({"status": "queued", "job_id": str(record.pk)}, status=202)
