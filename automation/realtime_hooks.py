"""automation's part of the realtime server: the `run` room (owner or staff, with a snapshot of
the run) and the Socket.IO handlers pause_automation, resume_automation, cancel_automation and
retry_automation (retry the failed tickers of a finished run). Each checks in the database that
the caller owns the run or is staff (services.run_for) and calls the same service as the HTTP
endpoint. Thin: the services do the work."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from automation import services
from automation.models import AutomationRun
from project.ids import parse_id
from realtime import handlers, rooms
from realtime.auth import Identity


def _user(identity: Identity):
    return get_user_model().objects.get(pk=identity.user_id)


async def may_see_run(identity: Identity, key: str) -> bool:
    run_id = parse_id(key)
    if run_id is None:
        return False
    if await AutomationRun.objects.filter(pk=run_id, owner_id=identity.user_id).aexists():
        return True
    staff = await get_user_model().objects.filter(pk=identity.user_id, is_staff=True, is_active=True).aexists()
    return staff and await AutomationRun.objects.filter(pk=run_id).aexists()


@sync_to_async
def _snapshot(identity: Identity, key: str) -> dict[str, Any]:
    return {"run": services.run_state(services.run_for(_user(identity), key))}


async def run_snapshot(identity: Identity, key: str) -> dict[str, Any]:
    return await _snapshot(identity, key)


def _control(action) -> Any:
    @sync_to_async
    def call(identity: Identity, data: dict) -> dict[str, Any]:
        user = _user(identity)
        try:
            run = action(run=services.run_for(user, data["automation_id"]), by=user)
        except services.AutomationError as exc:
            raise handlers.EventError(exc.code, str(exc)) from exc
        return {"automation_id": run.pk, "status": run.status, "requested": run.requested, "message": run.message}

    async def handler(identity: Identity, data: dict) -> dict[str, Any]:
        return await call(identity, data)

    return handler


def register() -> None:
    rooms.register("run", authorize=may_see_run, snapshot=run_snapshot)
    handlers.on("pause_automation")(_control(services.request_pause))
    handlers.on("resume_automation")(_control(services.resume))
    handlers.on("cancel_automation")(_control(services.cancel))
    handlers.on("retry_automation")(_control(services.retry_failed))
