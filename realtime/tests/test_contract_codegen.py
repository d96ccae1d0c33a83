"""The generators take whatever the contract holds (other apps and later edits add events, fields
and namespaces): an awkward contract, with names that collide once made identifiers, one event
name in both directions, a new namespace, an ack schema, a non-object payload and keys that are
not identifiers, still gives a document the official parser accepts, declarations tsc accepts
and a Python module that imports and passes mypy --strict."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys

from realtime import contract
from realtime.codegen import asyncapi, pytypes, typescript
from realtime.tests.test_asyncapi import errors, parse
from realtime.tests.test_typed_clients import tsc
from testing import BASE_DIR

OBJ = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": False}


def awkward() -> dict:
    raw = copy.deepcopy(json.loads(contract.CONTRACT_PATH.read_text()))
    raw["namespaces"].append("/reports-v2")
    raw["namespaces"].append("/reports_v2")
    raw["events"] += [
        {"name": "a:b", "namespaces": ["/reports-v2"], "direction": "server_to_client", "schema": OBJ},
        {"name": "a_b", "namespaces": ["/reports-v2"], "direction": "server_to_client", "schema": OBJ},
        {"name": "a.b", "namespaces": ["/reports-v2"], "direction": "server_to_client", "schema": OBJ},
        {"name": "a-b", "namespaces": ["/reports_v2"], "direction": "server_to_client", "schema": OBJ},
        {"name": "a_b", "namespaces": ["/reports-v2"], "direction": "client_to_server", "ack": True, "schema": OBJ},
        {
            "name": "2fa:check",
            "namespaces": ["/reports-v2", "/"],
            "direction": "client_to_server",
            "ack": True,
            "ack_schema": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}, "valid-until": {"type": ["string", "null"]}},
                "required": ["ok"],
            },
            "schema": {"type": "string", "maxLength": 10},
        },
        {
            "name": "report",
            "namespaces": ["/reports_v2"],
            "direction": "server_to_client",
            "target": "sid",
            "schema": {
                "type": "object",
                "properties": {
                    "content-type": {"enum": ["text/csv", "application/json", 3, None]},
                    "class": {"type": "array", "items": {"type": "object", "properties": {"x": {"const": "é\\"}}}},
                    "rows": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                    "ack": {"type": "object", "properties": {"id": {"type": "string"}}},
                },
                "required": ["content-type"],
            },
        },
    ]
    return raw


def test_the_document_of_an_awkward_contract_is_valid(tmp_path):
    raw = awkward()
    document = asyncapi.build(raw, host="rt.example.test", secure=True)
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document))
    parsed = parse(path)
    assert parsed["valid"], errors(parsed)
    ops = {(op["channel"], op["action"], op["messages"][0]["name"]) for op in parsed["operations"]}
    assert {
        ("/reports-v2", "send", "a:b"),
        ("/reports-v2", "send", "a_b"),
        ("/reports-v2", "send", "a.b"),
        ("/reports-v2", "receive", "a_b"),
        ("/", "receive", "2fa:check"),
        ("/reports_v2", "send", "a-b"),
        ("/reports_v2", "send", "report"),
    } <= ops


def test_the_declarations_of_an_awkward_contract_compile(tmp_path):
    (tmp_path / "realtime-events.d.ts").write_text(typescript.render(awkward()))
    (tmp_path / "use.ts").write_text(
        'import type { Namespaces, E2fa_CheckPayloadAck } from "realtime-events";\n'
        'type R = Namespaces["/reports-v2"];\n'
        'export const check: Parameters<R["clientToServer"]["2fa:check"]>[0] = "123";\n'
        'export const ack: E2fa_CheckPayloadAck = { ok: true, "valid-until": null };\n'
        'export const both: [keyof R["serverToClient"], keyof R["clientToServer"]] = ["a_b", "a_b"];\n'
    )
    (tmp_path / "tsconfig.json").write_text(
        json.dumps(
            {
                "extends": str(BASE_DIR / "realtime" / "tests" / "typed" / "tsconfig.json"),
                "compilerOptions": {"paths": {"realtime-events": ["./realtime-events.d.ts"]}},
                "files": ["use.ts"],
            }
        )
    )
    out = tsc(tmp_path)
    assert out.returncode == 0, out.stdout[-4000:]


def test_the_python_types_of_an_awkward_contract_import_and_type_check(tmp_path):
    path = tmp_path / "awkward_types.py"
    path.write_text(pytypes.render(awkward()))
    spec = importlib.util.spec_from_file_location("awkward_types", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sent, received = module.CLIENT_TO_SERVER["/reports-v2"]["a_b"], module.SERVER_TO_CLIENT["/reports-v2"]["a_b"]
    assert sent.__optional_keys__ == set() and received.__optional_keys__ == {"_meta"}
    # a:b, a_b, a.b, a-b and the client's a_b: five names (the same payloads alias the first)
    assert {"A_BPayload", "ABPayload", "ABPayload2", "ABPayload3", "ABPayload4"} <= set(dir(module))
    assert module.ABPayload2 is module.A_BPayload
    assert module.E2fa_CheckPayloadAck.__optional_keys__ == {"valid-until"}
    assert module.ReportPayload.__required_keys__ == {"content-type"}
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--ignore-missing-imports"]
        + ["--no-incremental", "--cache-dir=/dev/null", str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=BASE_DIR,
    )
    assert out.returncode == 0, out.stdout[-3000:]
