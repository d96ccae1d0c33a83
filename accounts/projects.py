"""A project as clients name it: its numeric id, or its key in the client's tenant (seed 002:
`project_456`). One resolver for the Socket.IO events and the HTTP API."""

from __future__ import annotations

from typing import Any

from accounts.models import PROJECT_KEY_RE, Project
from project.ids import parse_id


class UnknownProject(ValueError):
    """Neither a project id nor a key of a project in the tenant."""


def _by_key(reference: Any, tenant_id: int | None):
    if not isinstance(reference, str) or tenant_id is None or not PROJECT_KEY_RE.match(reference):
        raise UnknownProject("project_id must be a project's numeric id or its key")
    return Project.objects.filter(tenant_id=tenant_id, key=reference).values_list("pk", flat=True)


def project_id_for(reference: Any, tenant_id: int | None) -> int:
    """The project id `reference` names (an id is returned as is: membership is checked later)."""
    pk = parse_id(reference)
    if pk is not None:
        return pk
    found = _by_key(reference, tenant_id).first()
    if found is None:
        raise UnknownProject(f"no project with key {reference!r} in your tenant")
    return found


async def aproject_id_for(reference: Any, tenant_id: int | None) -> int:
    pk = parse_id(reference)
    if pk is not None:
        return pk
    found = await _by_key(reference, tenant_id).afirst()
    if found is None:
        raise UnknownProject(f"no project with key {reference!r} in your tenant")
    return found
