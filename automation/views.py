"""The run_automation pages and the JSON endpoints. Thin: services do the work."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.http import ApiError, api_view, json_body
from automation import provisioning, services
from automation.models import PublishingProfile
from automation.prices import universe


def _api_error(exc: services.AutomationError) -> ApiError:
    return ApiError(exc.status, str(exc), exc.code)


def default_profile(user) -> PublishingProfile:
    profile = PublishingProfile.objects.filter(owner=user).order_by("pk").first()
    return profile or PublishingProfile.objects.create(owner=user, name="My publication store")


# --- pages ----------------------------------------------------------------------------------------


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    default_profile(request.user)
    return render(
        request,
        "automation/run_list.html",
        {
            "runs": services.runs_of(request.user)[:50],
            "profiles": PublishingProfile.objects.filter(owner=request.user).order_by("pk"),
            "universe": list(universe().values()),
            "max_tickers": services.max_tickers(),
        },
    )


@login_required
def run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    try:
        run = services.run_for(request.user, run_id)
    except services.NotFound as exc:
        raise Http404(str(exc)) from exc
    # The log first, then the database: events logged after the read are replayed on top of the
    # state (each sets the fields it carries, so the newest wins, as in the stale-copy test).
    history = services.run_history(run)
    return render(
        request, "automation/run_page.html", {"run": run, "state": services.run_state(run), "history": history}
    )


# --- JSON -----------------------------------------------------------------------------------------


@api_view(("POST",))
def start_automation(request: HttpRequest) -> JsonResponse:
    """POST /start-automation {tickers, profile_id, step_seconds?} (seed 003)."""
    body = json_body(request)
    try:
        run = services.start_run(
            owner=request.user,
            tickers=body.get("tickers"),
            profile_id=body.get("profile_id"),
            step_seconds=body.get("step_seconds"),
        )
    except services.AutomationError as exc:
        raise _api_error(exc) from exc
    return JsonResponse(
        {
            "status": "started",
            "message": f"Automation started for {len(run.tickers)} tickers",
            "automation_id": run.pk,
            "url": f"/runs/{run.pk}/",
        }
    )


@api_view(("GET",))
def run_state(request: HttpRequest, run_id: int) -> JsonResponse:
    try:
        return JsonResponse(services.run_state(services.run_for(request.user, run_id)))
    except services.AutomationError as exc:
        raise _api_error(exc) from exc


ACTIONS = {
    "pause": services.request_pause,
    "resume": services.resume,
    "cancel": services.cancel,
    "retry": services.retry_failed,
}


@api_view(("POST",))
def run_action(request: HttpRequest, run_id: int, action: str) -> JsonResponse:
    if action not in ACTIONS:
        raise ApiError(404, f"unknown action {action[:20]!r}", "unknown_action")
    try:
        run = ACTIONS[action](run=services.run_for(request.user, run_id), by=request.user)
    except services.AutomationError as exc:
        raise _api_error(exc) from exc
    return JsonResponse(
        {"automation_id": run.pk, "status": run.status, "requested": run.requested, "message": run.message}
    )


@api_view(("POST",))
def start_provisioning(request: HttpRequest) -> JsonResponse:
    """POST /api/provisioning {tenant_id?}: your own tenant, or any tenant for staff."""
    body = json_body(request)
    try:
        job = provisioning.start(by=request.user, tenant_id=body.get("tenant_id"))
    except services.AutomationError as exc:
        raise _api_error(exc) from exc
    return JsonResponse(provisioning.state(job), status=202)


@api_view(("GET",))
def provisioning_state(request: HttpRequest, job_id: int) -> JsonResponse:
    try:
        return JsonResponse(provisioning.state(provisioning.job_for(request.user, job_id)))
    except services.AutomationError as exc:
        raise _api_error(exc) from exc
