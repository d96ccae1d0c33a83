"""The demo world, healthchecks-style: alice owns, bob is on her team (same tenant, same
project), charlie is an outsider (another tenant)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class World:
    acme: object
    globex: object
    alice: object
    bob: object
    charlie: object
    apollo: object  # alice + bob
    borealis: object  # alice only
    cygnus: object  # charlie (globex)

    def token(self, user, **kwargs) -> str:
        from accounts.tokens import issue_jwt

        return issue_jwt(user=user, **kwargs)


def make_world() -> World:
    """Two tenants, three users and three projects, with names unique to this call."""
    from django.contrib.auth import get_user_model

    from accounts.models import Profile, Project, Tenant

    suffix = str(time.monotonic_ns())[-8:]
    User = get_user_model()
    acme = Tenant.objects.create(name=f"Acme {suffix}", slug=f"acme-{suffix}")
    globex = Tenant.objects.create(name=f"Globex {suffix}", slug=f"globex-{suffix}")

    def user(name: str, tenant) -> object:
        u = User.objects.create_user(f"{name}{suffix}", f"{name}@example.com", "password")
        Profile.objects.create(user=u, tenant=tenant)
        return u

    alice, bob, charlie = user("alice", acme), user("bob", acme), user("charlie", globex)
    apollo = Project.objects.create(tenant=acme, name="Apollo")
    apollo.members.set([alice, bob])
    borealis = Project.objects.create(tenant=acme, name="Borealis")
    borealis.members.set([alice])
    cygnus = Project.objects.create(tenant=globex, name="Cygnus")
    cygnus.members.set([charlie])
    return World(acme, globex, alice, bob, charlie, apollo, borealis, cygnus)
