"""This project's identity and project rules for the realtime package (project/settings.py:
REALTIME_IDENTITY, REALTIME_PROJECTS, REALTIME_PROJECT_MODEL): JWTs (accounts.tokens), API tokens
(accounts.models.ApiToken), the tenant from the user's profile, projects named by id or key in the
tenant (accounts.projects) and membership by `Project.members`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from accounts import projects, tokens
from accounts.models import ApiToken, Project, hash_api_token
from realtime.identity import IdentityBackend, TokenClaims, TokenError
from realtime.projects import ProjectRules


class AccountsIdentity(IdentityBackend):
    def users(self) -> QuerySet:
        return get_user_model().objects.select_related("profile")

    def tenant_of(self, user: Any) -> int | None:
        profile = getattr(user, "profile", None)
        return profile.tenant_id if profile else None

    def users_for_jwts(self, tokens_: list[str]) -> list[tuple[Any, TokenClaims] | TokenError]:
        return tokens.users_for_jwts(tokens_)

    async def api_token_owner(self, raw: str) -> tuple[int, int] | None:
        token = await ApiToken.objects.filter(key_hash=hash_api_token(raw), revoked_at__isnull=True).afirst()
        return None if token is None else (token.user_id, token.pk)


class AccountsProjects(ProjectRules):
    def resolve(self, reference: Any, tenant_id: int | None) -> int:
        return projects.project_id_for(reference, tenant_id)

    async def aresolve(self, reference: Any, tenant_id: int | None) -> int:
        return await projects.aproject_id_for(reference, tenant_id)

    def member_project(self, user_id: int, project_id: int) -> Project | None:
        return Project.objects.filter(pk=project_id, members__pk=user_id).first()

    async def may_join(self, user_id: int, project_id: int) -> bool:
        return await Project.objects.filter(pk=project_id, members__pk=user_id).aexists()
