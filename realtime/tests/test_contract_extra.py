"""REALTIME_CONTRACT_EXTRA: an app's own events are merged into the contract, and a file that
would make the contract ambiguous or unusable stops the process from starting, saying why."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from realtime import contract
from testing import BASE_DIR
from testing.processes import process_env

ENTRY = {
    "name": "report_ready",
    "namespaces": ["/"],
    "direction": "server_to_client",
    "rooms": ["user"],
    "schema": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
}


def merged(tmp_path, events) -> dict:
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"events": events}))
    base = copy.deepcopy(json.loads(contract.CONTRACT_PATH.read_text()))
    contract._merge(base, path)
    return base


def test_an_apps_events_are_added(tmp_path):
    base = merged(tmp_path, [ENTRY])
    assert [e for e in base["events"] if e["name"] == "report_ready"] == [ENTRY]


@pytest.mark.parametrize(
    ("events", "says"),
    [
        ([{**ENTRY, "name": "agent_status"}], "already in the contract"),
        ([ENTRY, ENTRY], "already in the contract"),
        ([{**ENTRY, "namespaces": ["/reports"]}], "does not serve"),
        ([{"name": "x"}], "lacks"),
        ([{**ENTRY, "schema": {"type": "objekt"}}], "objekt"),
        ([{**ENTRY, "schema": {"type": "string", "format": "hostname"}}], "cannot check"),
        ([{**ENTRY, "direction": "server-to-client"}], "needs a direction"),
        ([{**ENTRY, "namespaces": "/"}], "list of namespaces"),
    ],
    ids=[
        "clash",
        "twice",
        "unknown-namespace",
        "incomplete",
        "bad-schema",
        "unchecked-format",
        "direction",
        "ns-string",
    ],
)
def test_a_bad_file_is_refused(tmp_path, events, says):
    with pytest.raises(Exception, match=says):
        merged(tmp_path, events)


def test_a_process_with_a_bad_file_does_not_start(tmp_path):
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"events": [{**ENTRY, "name": "agent_status"}]}))
    out = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=process_env(REALTIME_CONTRACT_EXTRA=str(path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "'agent_status'" in out.stderr and "already in the contract" in out.stderr, out.stderr[-2000:]
    out = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=process_env(REALTIME_CONTRACT_EXTRA=str(tmp_path / "missing.json")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "cannot read" in out.stderr, out.stderr[-2000:]
