"""Apps put their own numbers in statistics_update (ops/app_stats.py): counters and providers,
declared in a REALTIME_CONTRACT_EXTRA file, merged next to the ops numbers without replacing
one; and an app's own statistics_update (seed 001's dictionary) is accepted once declared."""

from __future__ import annotations

import json

import pytest

from ops import app_stats, stats
from realtime import contract
from testing import BASE_DIR
from testing.contract import extra_contract

pytestmark = pytest.mark.django_db

SEED_001_FIELDS = BASE_DIR / "tests" / "seeds" / "seed001_statistics.json"
SEED_001_STATS = {"total_attempts": 15, "successful_votes": 10, "failed_votes": 5, "active_instances": 3}


def spec():
    return contract.spec_for("statistics_update", direction="server_to_client", namespace="/")


@pytest.fixture
def counters():
    names = ("total_attempts", "successful_votes", "failed_votes", "connections")
    yield
    for name in names:
        app_stats.reset(name)
    app_stats.unregister("votes")
    app_stats.unregister("other")


def test_declared_counters_and_providers_join_the_ops_numbers(counters):
    with extra_contract(SEED_001_FIELDS):
        app_stats.incr("total_attempts", 15)
        app_stats.incr("successful_votes", 10)
        app_stats.incr("connections", 99)  # an ops field: never replaced
        app_stats.provider("votes")(lambda: {"failed_votes": 5, "undeclared": 1})
        app_stats.provider("other")(lambda: {"failed_votes": 7})  # the same name twice: first wins
        data = stats.collect()
        contract.validate(spec(), data)
    assert (data["total_attempts"], data["successful_votes"], data["failed_votes"]) == (15, 10, 5)
    assert data["active_instances"] == len(data["processes"])
    assert data["connections"] != 99 and "undeclared" not in data


def test_undeclared_numbers_are_left_out_and_the_update_still_valid(counters):
    app_stats.incr("total_attempts")
    data = stats.collect()
    assert "total_attempts" not in data
    contract.validate(spec(), data)


def test_an_apps_own_statistics_update_is_accepted_once_declared():
    with pytest.raises(contract.ContractError, match="'timestamp' is a required property"):
        contract.validate(spec(), SEED_001_STATS)  # the refusal, before declaring
    with extra_contract(SEED_001_FIELDS):
        contract.validate(spec(), SEED_001_STATS)
        with pytest.raises(contract.ContractError):
            contract.validate(spec(), {**SEED_001_STATS, "total_attempts": "15"})
        with pytest.raises(contract.ContractError):
            contract.validate(spec(), {**SEED_001_STATS, "connections": 3})  # an ops field alone: no
        with pytest.raises(contract.ContractError):
            contract.validate(spec(), {"active_instances": 3})  # the declared required fields


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ([{"event": "agent_status", "properties": {"x": {"type": "integer"}}}], "takes none"),
        ([{"event": "statistics_update", "properties": {"connections": {"type": "integer"}}}], "already fields"),
        ([{"event": "statistics_update", "properties": {"x": {"type": "int"}}}], "int"),
        ([{"event": "statistics_update", "properties": {"x": {}}, "required": ["y"]}], "must name declared"),
        ([{"event": "statistics_update", "properties": {}}], "need an event and properties"),
    ],
    ids=["not-extensible", "clash", "bad-schema", "required", "empty"],
)
def test_bad_field_declarations_are_refused(tmp_path, fields, says):
    path = tmp_path / "fields.json"
    path.write_text(json.dumps({"fields": fields}))
    with pytest.raises(Exception, match=says), extra_contract(path):
        contract.load()
