"""The event contract (contract/events.json): lookup and payload validation.

An app adds its own events without editing the product's file: REALTIME_CONTRACT_EXTRA lists
JSON files of `{"events": [...]}` (entries as in events.json, in its namespaces), merged in.
The same files may declare fields an app adds to an `extensible` event (`statistics_update`):
`{"fields": [{"event": "statistics_update", "properties": {name: schema}, "required": [...]}]}`.
The event then accepts them next to its own, and also a payload of the app's own: its declared
fields plus the ones the event's `extensible` list names (seed 001's statistics dictionary).

Every server-to-client payload is checked here before it is published when
REALTIME_VALIDATE_EVENTS is on (always in tests), and every client-to-server payload is
checked before a handler sees it, so a handler never deals with a wrong type.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

CONTRACT_PATH = Path(__file__).with_name("contract") / "events.json"
DIRECTIONS = ("server_to_client", "client_to_server")


class ContractError(ValueError):
    """An event is unknown in its namespace, or its payload does not match the contract."""

    def __init__(self, message: str, code: str = "invalid_payload") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class EventSpec:
    name: str
    namespaces: tuple[str, ...]
    direction: str
    rooms: tuple[str, ...] = ()
    target: str = "room"
    ack: bool = False
    schema: dict = field(default_factory=dict, compare=False)

    @functools.cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.schema, format_checker=format_checker())


@functools.cache
def load() -> dict[str, Any]:
    contract = json.loads(CONTRACT_PATH.read_text())
    for path in extra_paths():
        _merge(contract, path)
    return contract


def extra_paths() -> list[Path]:
    """settings.REALTIME_CONTRACT_EXTRA: the paths (comma-separated in the environment)."""
    from django.conf import settings

    return [Path(item.strip()) for item in settings.REALTIME_CONTRACT_EXTRA if str(item).strip()]


def _merge(contract: dict[str, Any], path: Path) -> None:
    """Add an app's events to the contract, refusing what would make it ambiguous or unusable."""
    try:
        extra = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ContractError(f"REALTIME_CONTRACT_EXTRA: cannot read {path}: {exc}", "bad_contract") from None
    events = extra.get("events", []) if isinstance(extra, dict) else None
    fields = extra.get("fields", []) if isinstance(extra, dict) else None
    if not isinstance(events, list) or not isinstance(fields, list) or not (events or fields):
        raise ContractError(
            f"REALTIME_CONTRACT_EXTRA: {path} must be an object with an `events` or a `fields` list", "bad_contract"
        )
    taken = {(e["direction"], ns, e["name"]) for e in contract["events"] for ns in e["namespaces"]}
    for entry in events:
        missing = [
            k for k in ("name", "namespaces", "direction", "schema") if not isinstance(entry, dict) or k not in entry
        ]
        if missing:
            raise ContractError(f"REALTIME_CONTRACT_EXTRA: an event in {path} lacks {missing}", "bad_contract")
        if entry["direction"] not in DIRECTIONS or not isinstance(entry["namespaces"], list):
            raise ContractError(
                f"REALTIME_CONTRACT_EXTRA: {entry['name']!r} in {path} needs a direction in {DIRECTIONS} "
                "and a list of namespaces",
                "bad_contract",
            )
        unknown = set(entry["namespaces"]) - set(contract["namespaces"])
        if unknown:
            raise ContractError(
                f"REALTIME_CONTRACT_EXTRA: {entry['name']!r} in {path} uses namespaces {sorted(unknown)} the server "
                "does not serve",
                "bad_contract",
            )
        clash = [ns for ns in entry["namespaces"] if (entry["direction"], ns, entry["name"]) in taken]
        if clash:
            raise ContractError(
                f"REALTIME_CONTRACT_EXTRA: {entry['name']!r} in {path} is already in the contract for {clash}",
                "bad_contract",
            )
        Draft202012Validator.check_schema(entry["schema"])
        unchecked = formats_used(entry["schema"]) - set(FormatChecker().checkers)
        if unchecked:  # jsonschema would accept any string for it (format_checker() refuses that)
            raise ContractError(
                f"REALTIME_CONTRACT_EXTRA: {entry['name']!r} in {path} uses formats {sorted(unchecked)} "
                "jsonschema cannot check here",
                "bad_contract",
            )
        taken |= {(entry["direction"], ns, entry["name"]) for ns in entry["namespaces"]}
        contract["events"].append(entry)
    for entry in fields:
        _add_fields(contract, path, entry)


def _add_fields(contract: dict[str, Any], path: Path, entry: Any) -> None:
    """An app's fields in an extensible event: allowed next to the event's own fields, and as a
    payload of their own (with the event's `extensible` fields), never in place of a field."""
    if not isinstance(entry, dict) or not isinstance(entry.get("properties"), dict) or not entry["properties"]:
        raise ContractError(f"REALTIME_CONTRACT_EXTRA: fields in {path} need an event and properties", "bad_contract")
    name = entry.get("event")
    targets = [e for e in contract["events"] if e["name"] == name and isinstance(e.get("extensible"), list)]
    if not targets:
        open_ = sorted({e["name"] for e in contract["events"] if isinstance(e.get("extensible"), list)})
        raise ContractError(
            f"REALTIME_CONTRACT_EXTRA: {path} adds fields to {name!r}, which takes none (extensible: {open_})",
            "bad_contract",
        )
    props, required = entry["properties"], entry.get("required", [])
    if not isinstance(required, list) or set(required) - set(props):
        raise ContractError(f"REALTIME_CONTRACT_EXTRA: `required` in {path} must name declared fields", "bad_contract")
    for schema in props.values():
        Draft202012Validator.check_schema(schema)
    unchecked = formats_used(props) - set(FormatChecker().checkers)
    if unchecked:
        raise ContractError(f"REALTIME_CONTRACT_EXTRA: {path} uses formats {sorted(unchecked)}", "bad_contract")
    for target in targets:
        schema = target["schema"]
        own_schema, apps = schema["anyOf"] if "anyOf" in schema else (schema, None)
        clash = sorted(set(props) & set(own_schema["properties"]))
        if clash:
            raise ContractError(
                f"REALTIME_CONTRACT_EXTRA: {path} declares {clash}, already fields of {name!r}", "bad_contract"
            )
        if apps is None:
            kept = {k: own_schema["properties"][k] for k in target["extensible"]}
            apps = {"type": "object", "properties": kept, "required": [], "minProperties": 1}
            apps["additionalProperties"] = False
        own_schema["properties"].update(props)
        apps["properties"].update(props)
        apps["required"] += required
        target["schema"] = {"anyOf": [own_schema, apps]}
        target.setdefault("app_fields", []).extend(props)


def app_fields(event: str) -> set[str]:
    """The fields apps declared for `event` (REALTIME_CONTRACT_EXTRA `fields`)."""
    return {f for raw in load()["events"] if raw["name"] == event for f in raw.get("app_fields", [])}


def formats_used(node: Any = None) -> set[str]:
    """Every `"format"` the contract's schemas use."""
    node = load() if node is None else node
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("format"), str):
            found.add(node["format"])
        for value in node.values():
            found |= formats_used(value)
    elif isinstance(node, list):
        for value in node:
            found |= formats_used(value)
    return found


@functools.cache
def format_checker() -> FormatChecker:
    """jsonschema's FormatChecker, refusing to run without a checker for a format the contract
    uses: without its optional package (rfc3339-validator for `date-time`, rfc3986-validator
    for `uri`) jsonschema silently accepts any string for that format."""
    checker = FormatChecker()
    missing = formats_used() - set(checker.checkers)
    if missing:
        raise RuntimeError(
            f"jsonschema cannot check the formats {sorted(missing)} the event contract uses: "
            "install requirements.txt (rfc3339-validator, rfc3986-validator)"
        )
    return checker


@functools.cache
def _index() -> dict[tuple[str, str, str], EventSpec]:
    index = {}
    for raw in load()["events"]:
        spec = EventSpec(
            name=raw["name"],
            namespaces=tuple(raw["namespaces"]),
            direction=raw["direction"],
            rooms=tuple(raw.get("rooms", ())),
            target=raw.get("target", "room"),
            ack=raw.get("ack", False),
            schema=raw["schema"],
        )
        for ns in spec.namespaces:
            index[(spec.direction, ns, spec.name)] = spec
    return index


def namespaces() -> list[str]:
    return list(load()["namespaces"])


def namespace_aliases() -> dict[str, str]:
    """Extra namespaces clients may connect to, each served as the namespace it aliases."""
    return dict(load().get("namespace_aliases", {}))


def canonical_namespace(namespace: str) -> str:
    return namespace_aliases().get(namespace, namespace)


def meta_field() -> str:
    return load()["meta_field"]


def spec_for(event: str, *, direction: str, namespace: str | None = None) -> EventSpec:
    """The spec of `event`; without a namespace, the event must live in exactly one, or in `/`."""
    index = _index()
    if namespace is not None:
        spec = index.get((direction, namespace, event))
        if spec is None:
            raise ContractError(f"event {event!r} is not in the contract for namespace {namespace!r}", "unknown_event")
        return spec
    found = set(_specs_named(direction, event))
    if len(found) == 1 and "/" in next(iter(found)).namespaces:
        return found.pop()
    if len(found) != 1 or len(next(iter(found)).namespaces) != 1:
        raise ContractError(
            f"event {event!r} is unknown or lives in several namespaces: pass namespace=", "unknown_event"
        )
    return found.pop()


@functools.cache
def _specs_named(direction: str, event: str) -> frozenset[EventSpec]:
    """Every spec of `event` in `direction`, over all namespaces (looked up on every emit)."""
    return frozenset(s for (d, _, n), s in _index().items() if d == direction and n == event)


def validate(spec: EventSpec, payload: Any) -> None:
    error = next(iter(spec.validator.iter_errors(payload)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "payload"
        raise ContractError(f"{spec.name}: {where}: {error.message}")


def check_outgoing(event: str, payload: Any, namespace: str) -> None:
    """Validate a payload the server sends directly to a connection or room (outside emit()),
    when REALTIME_VALIDATE_EVENTS is on: every server-to-client payload follows the contract."""
    from django.conf import settings

    if settings.REALTIME_VALIDATE_EVENTS:
        spec = spec_for(event, direction="server_to_client", namespace=canonical_namespace(namespace))
        validate(spec, payload)


def room_kind(room: str) -> str:
    return room.split(":", 1)[0]
