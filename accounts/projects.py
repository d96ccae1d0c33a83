"""A project as clients name it: its numeric id, its own key in the client's tenant, or
`project_<id>` (seed 002: `project_456`). One resolver for the Socket.IO events and the HTTP API;
membership is checked by the caller, as for an id."""

from __future__ import annotations

from typing import Any

from accounts.models import DEFAULT_KEY_RE, PROJECT_KEY_RE, Project
from realtime.ids import parse_id
from realtime.projects import UnknownProject  # neither a project id nor a key of a project in the tenant

__all__ = ["UnknownProject", "aproject_id_for", "project_id_for"]


def _own_keys(reference: Any, tenant_id: int | None):
    """The lookup of a project's own key (None when `reference` can't be one)."""
    if not isinstance(reference, str) or tenant_id is None or not PROJECT_KEY_RE.match(reference):
        return None
    return Project.objects.filter(tenant_id=tenant_id, key=reference).values_list("pk", flat=True)


def _derived(reference: Any, found: int | None) -> int:
    """An own key wins; else `project_<id>`; else it names nothing."""
    if found is not None:
        return found
    match = DEFAULT_KEY_RE.match(reference) if isinstance(reference, str) else None
    if match is None:
        raise UnknownProject(f"no project with key {str(reference)[:20]!r} in your tenant")
    return int(match.group(1))


def project_id_for(reference: Any, tenant_id: int | None) -> int:
    """The project id `reference` names."""
    pk = parse_id(reference)
    if pk is not None:
        return pk
    lookup = _own_keys(reference, tenant_id)
    return _derived(reference, lookup.first() if lookup is not None else None)


async def aproject_id_for(reference: Any, tenant_id: int | None) -> int:
    pk = parse_id(reference)
    if pk is not None:
        return pk
    lookup = _own_keys(reference, tenant_id)
    return _derived(reference, await lookup.afirst() if lookup is not None else None)
