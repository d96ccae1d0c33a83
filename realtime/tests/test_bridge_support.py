"""Helpers of the bridge tests (no tests in here): a plain WebSocket client for /ws/rooms/ and
the job a worker runs to send through Channels."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import websocket
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


class RoomStreamClient:
    """A client that does not speak Socket.IO: JSON frames over one WebSocket."""

    def __init__(
        self, base_url: str, *, token: str | None = None, cookie: str | None = None, origin: str | None = None
    ) -> None:
        url = base_url.replace("http://", "ws://") + "/ws/rooms/" + (f"?token={quote(token)}" if token else "")
        kwargs: dict[str, Any] = {"timeout": 10}
        if cookie:
            kwargs["cookie"] = f"sessionid={cookie}"
        if origin:
            kwargs["origin"] = origin
        else:
            kwargs["suppress_origin"] = True
        self.ws = websocket.create_connection(url, **kwargs)
        self.frames: list[dict[str, Any]] = []
        self.closed: int | None = None

    def send(self, frame: dict[str, Any] | str) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def wait_for(self, predicate, timeout: float = 10, what: str = "frame") -> dict[str, Any]:
        for frame in self.frames:
            if predicate(frame):
                return frame
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout}s; got {self.frames[-10:]}")
            self.ws.settimeout(left)
            opcode, data = self.ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closed = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                raise AssertionError(f"closed ({self.closed}) while waiting for {what}; got {self.frames[-10:]}")
            frame = json.loads(data)
            self.frames.append(frame)
            if predicate(frame):
                return frame

    def wait_type(self, kind: str, **match: Any) -> dict[str, Any]:
        return self.wait_for(lambda f: f["type"] == kind and match.items() <= f.items(), what=f"{kind} {match}")

    def wait_close(self, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
            if opcode == websocket.ABNF.OPCODE_TEXT:
                self.frames.append(json.loads(data))
        raise AssertionError("the server did not close the connection")

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "event" and (event is None or f["event"] == event)]

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: S110 (already closed)
            pass


def send_through_channels(*, group: str, event: str, data: dict[str, Any]) -> str:
    """An RQ job written for Channels: it knows nothing of Socket.IO."""
    async_to_sync(get_channel_layer().group_send)(group, {"type": "realtime.event", "event": event, "data": data})
    return type(get_channel_layer()).__name__


class _RollBack(Exception):
    pass


def room_head(room: str, namespace: str = "/") -> int:
    """The room's last sequence number, read straight from Redis (0 before its first event)."""
    from realtime import eventlog
    from realtime.redis import sync_client

    return int(sync_client().hget(eventlog.state_key(namespace, room), "seq") or 0)


def send_in_a_transaction(request):
    """A test-only view (realtime/tests/bridge_urls.py): inside `transaction.atomic` it creates a
    tenant and calls `group_send_on_commit()`, then rolls back when asked. It answers the room's
    head sequence number as seen inside the transaction and, after a commit, after it."""
    from django.db import transaction
    from django.http import JsonResponse

    from accounts.models import Tenant
    from realtime.bridge import group_send_on_commit, room_to_group

    body = json.loads(request.body)
    room, slug = body["room"], body["slug"]
    message = {"type": "realtime.event", "event": "test_event", "data": {"n": body["n"], "text": slug}}
    try:
        with transaction.atomic():
            Tenant.objects.create(name=slug, slug=slug)
            group_send_on_commit(room_to_group(room), message)
            inside = room_head(room)
            if body.get("rollback"):
                raise _RollBack
    except _RollBack:
        return JsonResponse({"committed": False, "seq_inside": inside})
    return JsonResponse({"committed": True, "seq_inside": inside, "seq_after": room_head(room)})
