from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from realtime import contract, outbox
from realtime.codegen import asyncapi
from realtime.http import api_view
from realtime.redis import sync_client


def healthz(request: HttpRequest) -> JsonResponse:
    """503 while Redis does not answer (events are then deferred: `outbox` says how many wait)."""
    extra: dict[str, Any] = {}
    try:
        extra["outbox"] = outbox.backlog()
    except DatabaseError as exc:
        extra["database"] = exc.__class__.__name__
    try:
        sync_client().ping()
    except Exception as exc:
        return JsonResponse({"status": "unhealthy", "redis": exc.__class__.__name__, **extra}, status=503)
    if "database" in extra:
        return JsonResponse({"status": "unhealthy", **extra}, status=503)
    return JsonResponse({"status": "ok", **extra})


@api_view(("GET",), anonymous=True)
def asyncapi_view(request: HttpRequest) -> JsonResponse:
    """GET /api/realtime/asyncapi.json: the event contract as an AsyncAPI 3.0 document (the one
    committed in realtime/contract/asyncapi.json, plus REALTIME_CONTRACT_EXTRA's events), with this
    host's Socket.IO endpoints as its servers."""
    document = asyncapi.build(contract.load(), host=request.get_host(), secure=request.is_secure())
    return JsonResponse(document, json_dumps_params={"ensure_ascii": False})


@require_GET
def events_docs(request: HttpRequest) -> HttpResponse:
    """GET /docs/events/: the HTML docs of the AsyncAPI document above, rendered in the browser by
    AsyncAPI's own React component (@asyncapi/react-component, served from our static files)."""
    return render(request, "realtime/asyncapi.html")
