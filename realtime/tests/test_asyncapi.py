"""The event contract as AsyncAPI 3.0: generated from realtime/contract/events.json, committed
current, validated by the official parser (@asyncapi/parser under Node), covering every namespace,
event, direction, ack and the replay metadata, and served at GET /api/realtime/asyncapi.json."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys

import pytest
from django.test import Client

from realtime import contract
from realtime.codegen import asyncapi
from testing import BASE_DIR

VALIDATOR = BASE_DIR / "realtime" / "tests" / "node" / "validate_asyncapi.mjs"
COMMITTED = BASE_DIR / "realtime" / "contract" / "asyncapi.json"


def parse(path) -> dict:
    """What the official parser makes of the document at `path`."""
    node = shutil.which("node")
    assert node, "node is required (make test installs the npm packages)"
    assert (BASE_DIR / "node_modules" / "@asyncapi" / "parser").is_dir(), "run `npm ci` (make test does)"
    out = subprocess.run([node, str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120, cwd=BASE_DIR)
    assert out.stdout, out.stderr[-3000:]
    return json.loads(out.stdout)


def errors(parsed: dict) -> list[dict]:
    return [d for d in parsed["diagnostics"] if d["severity"] == 0]


def source() -> dict:
    return json.loads(contract.CONTRACT_PATH.read_text())


def test_it_has_the_generated_files_up_to_date():
    out = subprocess.run(
        [sys.executable, "docs/tools/render_contract.py", "--check"], cwd=BASE_DIR, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_the_official_parser_validates_the_document_and_it_covers_the_whole_contract():
    parsed = parse(COMMITTED)
    assert parsed["valid"], errors(parsed)
    assert parsed["version"] == "3.0.0"
    raw = source()
    assert [c["address"] for c in parsed["channels"]] == raw["namespaces"]

    expected = set()
    for e in raw["events"]:
        for ns in e["namespaces"]:
            action = "send" if e["direction"] == "server_to_client" else "receive"
            expected.add((ns, action, e["name"], f"{e['name']} ack" if e.get("ack") else None))
    got = {
        (op["channel"], op["action"], op["messages"][0]["name"], (op["reply"] or [None])[0])
        for op in parsed["operations"]
    }
    assert got == expected

    meta = raw["meta_field"]
    for op in parsed["operations"]:
        spec = contract.spec_for(op["messages"][0]["name"], direction=_direction(op), namespace=op["channel"])
        payload = op["messages"][0]["payload"]
        branches = payload.get("oneOf") or [payload]
        carries = [meta in (b.get("properties") or {}) for b in branches]
        assert all(carries) if spec.target == "room" and spec.direction == "server_to_client" else not any(carries), op
        if any(carries):
            resolved = branches[0]["properties"][meta]  # the parser resolved the $ref to the component
            assert (
                resolved["x-parser-schema-id"] == "ReplayMeta"
                and resolved["required"] == raw["meta_schema"]["required"]
            )


def _direction(op: dict) -> str:
    return "server_to_client" if op["action"] == "send" else "client_to_server"


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda e: e["schema"]["properties"]["job_id"].update(type="strin"), "allowed values"),
        (lambda e: e["schema"].update(required="job_id"), "required"),
    ],
    ids=["type-typo", "required-not-a-list"],
)
def test_a_contract_edit_that_breaks_the_document_fails_the_parser(tmp_path, edit, says):
    raw = copy.deepcopy(source())
    edit(next(e for e in raw["events"] if e["name"] == "agent_status"))
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(asyncapi.build(raw)))
    parsed = parse(path)
    assert not parsed["valid"]
    assert any(says in d["message"] and "agent_status/payload" in d["path"] for d in errors(parsed)), errors(parsed)


@pytest.fixture
def extra_events(tmp_path, settings):
    """An app's own event merged in (REALTIME_CONTRACT_EXTRA), the cached contract reloaded."""
    path = tmp_path / "extra.json"
    path.write_text(
        json.dumps(
            {
                "events": [
                    {
                        "name": "report:ready",
                        "namespaces": ["/billing"],
                        "direction": "server_to_client",
                        "rooms": ["tenant"],
                        "schema": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
                    }
                ]
            }
        )
    )
    caches = (contract.load, contract._index, contract._specs_named, contract.format_checker)
    settings.REALTIME_CONTRACT_EXTRA = [str(path)]
    for cached in caches:
        cached.cache_clear()
    yield
    settings.REALTIME_CONTRACT_EXTRA = []
    for cached in caches:
        cached.cache_clear()


@pytest.mark.django_db
def test_the_server_serves_the_document_with_its_endpoints_and_the_apps_events(tmp_path, extra_events, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "rt.example.test"]
    response = Client().get("/api/realtime/asyncapi.json", HTTP_HOST="rt.example.test")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    served = response.json()
    assert {s["pathname"] for s in served["servers"].values()} == {"/socket.io", "/ws/socket.io"}
    assert {s["host"] for s in served["servers"].values()} == {"rt.example.test"}
    assert served["components"]["messages"]["report.ready"]["name"] == "report:ready"

    committed = json.loads(COMMITTED.read_text())
    served_channels = {k: v for k, v in served["channels"]["billing"]["messages"].items() if k != "report.ready"}
    assert served_channels == committed["channels"]["billing"]["messages"]

    path = tmp_path / "served.json"
    path.write_text(response.content.decode())
    parsed = parse(path)
    assert parsed["valid"], errors(parsed)
    assert ("/billing", "send", "report:ready") in {
        (op["channel"], op["action"], op["messages"][0]["name"]) for op in parsed["operations"]
    }
