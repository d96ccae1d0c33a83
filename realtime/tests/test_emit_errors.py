"""emit() never swallows a failure: a bad event or payload is refused where it is emitted, and an
unreachable Redis raises EmitError and is counted."""

from __future__ import annotations

import pytest

from realtime import contract, metrics
from realtime.emit import EmitError, emit
from testing import redis_clients
from tools.embedded_redis import free_port


def test_an_unknown_event_is_refused():
    with pytest.raises(contract.ContractError, match="not in the contract|unknown"):
        emit("no_such_event", {"x": 1}, room="user:1")


def test_a_payload_that_breaks_the_contract_is_refused():
    with pytest.raises(contract.ContractError, match="percent"):
        emit(
            "automation_progress",
            {"stage": "processing", "message": "m", "timestamp": "2026-01-01T00:00:00Z", "percent": 150},
            room="user:1",
        )


def test_a_missing_field_is_refused():
    with pytest.raises(contract.ContractError, match="tenant_id"):
        emit("status:update", {"status": "x", "progress": 1, "message": "m"}, room="tenant:1")


def test_an_event_sent_to_the_wrong_kind_of_room_is_refused():
    with pytest.raises(contract.ContractError, match="not sent to 'user' rooms"):
        emit("status:update", {"tenant_id": 1, "status": "x", "progress": 1, "message": "m"}, room="user:1")


def test_a_payload_that_is_not_json_is_refused():
    with pytest.raises(contract.ContractError):
        emit("test_event", {"n": 1, "text": object()}, room="user:1")


def test_the_reserved_meta_field_cannot_be_forged():
    with pytest.raises(contract.ContractError, match="_meta"):
        emit("test_event", {"n": 1, "_meta": {"seq": 99}}, room="user:1")


def test_an_unreachable_redis_raises_and_is_counted(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    before = metrics.snapshot().get("emit_failures", 0)
    with redis_clients.fresh():  # this process's clients connect to the unreachable one
        with pytest.raises(EmitError, match="could not publish"):
            emit("test_event", {"n": 1}, room="user:1", on_commit=False)
    assert metrics.snapshot()["emit_failures"] == before + 1
