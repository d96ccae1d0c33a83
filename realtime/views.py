from django.http import HttpRequest, JsonResponse

from realtime.redis import sync_client


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        sync_client().ping()
    except Exception as exc:
        return JsonResponse({"status": "unhealthy", "redis": exc.__class__.__name__}, status=503)
    return JsonResponse({"status": "ok"})
