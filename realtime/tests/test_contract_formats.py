"""The contract's `"format"`s are enforced: jsonschema only checks `date-time` and `uri` when
their optional packages are installed (rfc3339-validator, rfc3986-validator; pinned in
requirements.txt), and otherwise accepts any string without a word."""

from __future__ import annotations

import pytest

from realtime import contract
from realtime.emit import emit

AGENT_STATUS = {
    "job_id": "1",
    "status": "running",
    "timestamp": "2026-01-02T03:04:05.123456Z",
    "event": "status_change",
    "result": None,
    "error": None,
}


def spec(event: str, namespace: str = "/") -> contract.EventSpec:
    return contract.spec_for(event, direction="server_to_client", namespace=namespace)


def test_every_format_the_contract_uses_is_checked():
    assert {"date-time", "uri"} <= contract.formats_used()
    assert contract.formats_used() <= set(contract.format_checker().checkers)


def test_a_good_timestamp_validates():
    contract.validate(spec("agent_status"), AGENT_STATUS)


@pytest.mark.parametrize("timestamp", ["yesterday", "2026-01-02", "2026-01-02 03:04:05", "2026-13-02T03:04:05Z", ""])
def test_a_bad_timestamp_fails_validation(timestamp):
    with pytest.raises(contract.ContractError, match="timestamp.*date-time"):
        contract.validate(spec("agent_status"), {**AGENT_STATUS, "timestamp": timestamp})


def test_emit_refuses_a_bad_timestamp_before_publishing(settings):
    settings.REALTIME_VALIDATE_EVENTS = True
    with pytest.raises(contract.ContractError, match="date-time"):
        emit("agent_status", {**AGENT_STATUS, "timestamp": "not a time"}, room="job:1", on_commit=False)


def test_a_bad_uri_fails_validation():
    completed = spec("status:completed", "/provisioning")
    contract.validate(completed, {"tenant_id": 1, "erpnext_url": "https://acme.erp.example.com"})
    with pytest.raises(contract.ContractError, match="erpnext_url.*uri"):
        contract.validate(completed, {"tenant_id": 1, "erpnext_url": "acme erp"})
