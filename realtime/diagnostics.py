"""Diagnostics that send `test_event` through the whole path (Redis, every server, the room):
a staff-only HTTP endpoint, an RQ job, the `echo` client event and `manage.py emit_test_event`.
Ops use them to check delivery; the test suite uses them to prove emit() from every context."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.http import HttpRequest, JsonResponse

from realtime import handlers
from realtime.auth import Identity
from realtime.emit import aemit, emit, user_room
from realtime.http import ApiError, api_view, json_body
from realtime.redis import realtime_url


def _test_event(n: int, source: str, text: str = "") -> dict:
    return {"n": n, "source": source, "text": text}


def redis_url_for_humans() -> str:
    """The realtime Redis's URL without its password, to name it in a message."""
    url = realtime_url()
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def emit_test_event(*, room: str, n: int, source: str, namespace: str = "/", text: str = "") -> dict:
    """Publish `test_event` to `room`. `receivers` is how many server processes were subscribed to
    the room's channel when it was published, i.e. had a member of the room: 0 means no server
    could deliver it (the event is still in the room's replay log for clients that come back with
    a position)."""
    published = emit("test_event", _test_event(n, source, text), room=room, namespace=namespace)
    return {
        "room": room,
        "seq": published.seq if published else None,
        "receivers": published.receivers if published else None,
    }


def emit_test_event_job(*, room: str, n: int, namespace: str = "/") -> dict:
    """RQ job: emits from a worker process."""
    return emit_test_event(room=room, n=n, source="rq", namespace=namespace)


@api_view(("POST",))
def test_event_view(request: HttpRequest) -> JsonResponse:
    """POST /api/realtime/test-event {room, n, namespace?} (staff only)."""
    if not request.user.is_staff:
        raise ApiError(403, "staff only", "forbidden")
    body = json_body(request)
    room, n, namespace = body.get("room"), body.get("n", 0), body.get("namespace", "/")
    if not isinstance(room, str) or not isinstance(n, int) or not isinstance(namespace, str):
        raise ApiError(400, "room (string), n (integer) and namespace (string) are required", "invalid_input")
    try:
        result = emit_test_event(room=room, n=n, source="view", namespace=namespace)
    except ValueError as exc:  # ContractError too: unknown namespace or room kind
        raise ApiError(400, str(exc), "invalid_input") from exc
    if result["receivers"] == 0:
        result["warning"] = (
            f"no server process has a member of the room on {redis_url_for_humans()}: nobody received it live"
        )
    return JsonResponse(result, status=202)


def register_echo(namespace: str) -> None:
    @handlers.on("echo", namespace=namespace)
    async def echo(identity: Identity, data: dict) -> dict:
        published = await aemit(
            "test_event", _test_event(data["n"], "echo"), room=user_room(identity.user_id), namespace=namespace
        )
        return {"seq": published.seq}
