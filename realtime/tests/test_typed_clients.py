"""Typed clients generated from the contract: the TypeScript declarations for socket.io-client pass
`tsc --noEmit` with a small typed client that uses every event (realtime/tests/typed/client.ts),
a contract edit that breaks what it reads fails tsc, and the Python TypedDicts
(realtime/contract_types.py) match the contract and type the payloads a live server sends."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import typing

import pytest
import requests

from realtime import contract
from realtime import contract_types as ct
from realtime.codegen import pytypes, typescript
from testing import BASE_DIR

TYPED = BASE_DIR / "realtime" / "tests" / "typed"
TSC = BASE_DIR / "node_modules" / ".bin" / "tsc"


def tsc(project) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "node is required (make test installs the npm packages)"
    assert TSC.exists(), "run `npm ci` (make test does): typescript is a devDependency"
    return subprocess.run(
        [node, str(TSC), "--noEmit", "-p", str(project)], capture_output=True, text=True, timeout=180, cwd=BASE_DIR
    )


def source() -> dict:
    return json.loads(contract.CONTRACT_PATH.read_text())


def test_tsc_passes_on_the_typed_client():
    out = tsc(TYPED)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_the_typed_client_uses_every_event_in_every_namespace():
    text = (TYPED / "client.ts").read_text()
    # each namespace's part of the client is the function connecting to it (or to its alias)
    parts = dict(re.findall(r'connect\("([^"]+)", token\)(.*?)(?=\nexport async function|\Z)', text, re.S))
    raw = source()
    aliases = raw.get("namespace_aliases") or {}
    parts = {aliases.get(ns, ns): body for ns, body in parts.items()}
    missing = [
        f"{e['name']} ({ns})"
        for e in raw["events"]
        for ns in e["namespaces"]
        if f'"{e["name"]}"' not in parts.get(ns, "")
    ]
    assert not missing, f"add these events to realtime/tests/typed/client.ts: {missing}"


def test_a_contract_edit_that_breaks_the_types_fails_tsc(tmp_path):
    raw = copy.deepcopy(source())
    progress = next(e for e in raw["events"] if e["name"] == "agent_progress")["schema"]
    progress["properties"]["percent"] = progress["properties"].pop("progress")
    progress["required"] = ["percent" if f == "progress" else f for f in progress["required"]]
    (tmp_path / "realtime-events.d.ts").write_text(typescript.render(raw))
    (tmp_path / "tsconfig.json").write_text(
        json.dumps(
            {
                "extends": str(TYPED / "tsconfig.json"),
                "compilerOptions": {"paths": {"realtime-events": ["./realtime-events.d.ts"]}},
                "files": [str(TYPED / "client.ts")],
            }
        )
    )
    out = tsc(tmp_path)
    assert out.returncode != 0
    assert "Property 'progress' does not exist" in out.stdout, out.stdout[-3000:]


def mypy(path, **env) -> subprocess.CompletedProcess:
    """mypy --strict on `path`; an unused `# type: ignore` (a mistake the types let through) fails."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--warn-unused-ignores", "--follow-imports=silent"]
        + ["--ignore-missing-imports", "--no-incremental", "--cache-dir=/dev/null", str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_mypy_passes_on_the_typed_python_client():
    out = mypy(TYPED / "client.py")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_a_contract_edit_that_breaks_the_python_types_fails_mypy(tmp_path):
    raw = copy.deepcopy(source())
    progress = next(e for e in raw["events"] if e["name"] == "agent_progress")["schema"]
    progress["properties"]["progress"] = {"type": "string"}
    (tmp_path / "realtime").mkdir()
    (tmp_path / "realtime" / "__init__.py").write_text("")
    (tmp_path / "realtime" / "contract_types.py").write_text(pytypes.render(raw))
    shutil.copy(TYPED / "client.py", tmp_path / "client.py")
    out = mypy(tmp_path / "client.py", MYPYPATH=str(tmp_path))
    assert out.returncode != 0
    assert 'expression has type "str", variable has type "float"' in out.stdout, out.stdout[-3000:]


def payload_types(td) -> list:
    """The TypedDicts a payload type stands for (one, or each variant of a union)."""
    return list(typing.get_args(td)) or [td]


def test_the_python_typeddicts_match_the_contract():
    raw = source()
    meta = raw["meta_field"]
    for e in raw["events"]:
        table = ct.SERVER_TO_CLIENT if e["direction"] == "server_to_client" else ct.CLIENT_TO_SERVER
        for ns in e["namespaces"]:
            td = table[ns][e["name"]]
            schemas = e["schema"].get("oneOf") or [e["schema"]]
            if not any(schema.get("properties") for schema in schemas):  # no fields: an alias, not a TypedDict
                assert not any(typing.is_typeddict(t) for t in payload_types(td)), e["name"]
                continue
            variants = payload_types(td)
            assert len(variants) == len(schemas), e["name"]
            room_event = e["direction"] == "server_to_client" and e.get("target", "room") == "room"
            for variant, schema in zip(variants, schemas, strict=True):
                required = set(schema.get("required", []))
                optional = set(schema.get("properties", {})) - required | ({meta} if room_event else set())
                assert variant.__required_keys__ == required, e["name"]
                assert variant.__optional_keys__ == optional, e["name"]
    # a typed wrapper per event: `call` for the client events with an ack, `on` for the server's
    calls = {event_of(f) for f in typing.get_overloads(ct.call)}
    ons = {event_of(f) for f in typing.get_overloads(ct.on)}
    assert calls == {e["name"] for e in raw["events"] if e["direction"] == "client_to_server" and e.get("ack")}
    assert ons == {e["name"] for e in raw["events"] if e["direction"] == "server_to_client"}


def event_of(overload) -> str:
    hints = typing.get_type_hints(overload, localns={"RealtimeClient": object})  # imported for type checkers only
    return typing.get_args(hints["event"])[0]


def conforms(payload: dict, td) -> bool:
    return any(
        v.__required_keys__ <= payload.keys() <= v.__required_keys__ | v.__optional_keys__ for v in payload_types(td)
    )


@pytest.mark.django_db(transaction=True)
def test_the_typed_python_helpers_against_the_server(world, connect):
    client = connect(world.token(world.bob))
    connected = client.received("connected")[0]
    assert conforms(connected, ct.ConnectedPayload)

    seen: list[ct.TestEventPayload] = []
    ct.on(client, "test_event", seen.append)
    subscribe: ct.SubscribeProjectPayload = {"project_id": world.apollo.pk}
    ack = ct.call(client, "subscribe_project", subscribe)
    assert ack["ok"] is True and ack["room"] == f"project:{world.apollo.pk}"
    echo: ct.EchoPayload = {"n": 41}
    assert ct.call(client, "echo", echo)["ok"] is True
    client.wait_until(lambda: any(e["n"] == 41 for e in seen), what="test_event 41")
    event = next(e for e in seen if e["n"] == 41)
    assert conforms(event, ct.TestEventPayload) and conforms(event["_meta"], ct.ReplayMeta)

    refused = ct.call(client, "subscribe", {"room": "project:999999"})
    assert refused["ok"] is False and conforms(refused, ct.Ack)


def test_the_declarations_ship_with_the_pages_static_files(asgi_server):
    response = requests.get(f"{asgi_server.url}/static/js/realtime-events.d.ts", timeout=10)
    assert response.status_code == 200
    assert response.text == (BASE_DIR / "static" / "js" / "realtime-events.d.ts").read_text()
    assert response.headers["content-type"] == "application/typescript; charset=utf-8"
