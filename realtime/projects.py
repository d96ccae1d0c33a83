"""Projects as the package sees them: the host's project model (REALTIME_PROJECT_MODEL, the
target of jobs' `JobRecord.project`) and its rules (REALTIME_PROJECTS, a `ProjectRules` subclass):
how a client names a project, and who is a member (who may join `project:{id}` and see its jobs)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from realtime.ids import parse_id


class UnknownProject(ValueError):
    """The reference names no project (a client error: `invalid_room`, HTTP 404)."""


class ProjectRules:
    """Projects named by their numeric id; override `member_project` (required) and, for other
    names (keys, slugs), `resolve` and `aresolve`."""

    def resolve(self, reference: Any, tenant_id: int | None) -> int:
        """The project id `reference` names (membership is checked by the caller)."""
        pk = parse_id(reference)
        if pk is None:
            raise UnknownProject(f"no project {str(reference)[:20]!r}")
        return pk

    async def aresolve(self, reference: Any, tenant_id: int | None) -> int:
        return self.resolve(reference, tenant_id)

    def member_project(self, user_id: int, project_id: int) -> Any | None:
        """The project (a REALTIME_PROJECT_MODEL instance) if the user is one of its members."""
        raise NotImplementedError(f"{type(self).__name__} must define member_project(user_id, project_id)")

    async def may_join(self, user_id: int, project_id: int) -> bool:
        """May the user join `project:{project_id}` (checked on every subscribe and revocation)."""
        return await sync_to_async(self.member_project)(user_id, project_id) is not None
