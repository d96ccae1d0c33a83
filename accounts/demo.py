"""Demo identities. Every app may have a `demo.py` with `seed(users: dict) -> list[str]`;
`manage.py seed_demo` runs accounts' first, then the others, and prints what they say."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from accounts.models import ApiToken, Profile, Project, Tenant

DEMO_USERS = {
    # username: (password, tenant slug, is_staff)
    "alice": ("alice-demo-pass", "acme", False),
    "bob": ("bob-demo-pass", "acme", False),
    "carol": ("carol-demo-pass", "globex", False),
    "ops": ("ops-demo-pass", "acme", True),
}
DEMO_TENANTS = {"acme": "Acme Corp", "globex": "Globex Inc"}
DEMO_PROJECT_KEYS = {"Apollo": "project_456"}  # seed 002's client code names it so
DEMO_PROJECTS = {
    # name: (tenant slug, members)
    "Apollo": ("acme", ["alice", "bob"]),
    "Borealis": ("acme", ["alice"]),
    "Cygnus": ("globex", ["carol"]),
}


def seed(users: dict) -> list[str]:
    tenants = {
        slug: Tenant.objects.update_or_create(slug=slug, defaults={"name": name})[0]
        for slug, name in DEMO_TENANTS.items()
    }
    User = get_user_model()
    lines = []
    for username, (password, slug, staff) in DEMO_USERS.items():
        user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
        user.set_password(password)
        user.is_staff = user.is_superuser = staff
        user.save()
        Profile.objects.update_or_create(user=user, defaults={"tenant": tenants[slug]})
        users[username] = user
        lines.append(f"  {username:6} / {password:18} tenant={slug}{' (staff, /admin/)' if staff else ''}")
    for name, (slug, members) in DEMO_PROJECTS.items():
        project, _ = Project.objects.get_or_create(tenant=tenants[slug], name=name)
        if project.key != DEMO_PROJECT_KEYS.get(name):
            project.key = DEMO_PROJECT_KEYS.get(name)
            project.save(update_fields=["key"])
        project.members.set([users[m] for m in members])
    if not ApiToken.objects.filter(user=users["bob"], name="demo").exists():
        _, raw = ApiToken.create_for(user=users["bob"], name="demo")
        lines.append(f"  API token for bob (seed 002 clients, ?token=): {raw}")
    else:
        lines.append(
            "  API token for bob (seed 002 clients, ?token=): .venv/bin/python manage.py api_token bob --name NAME"
        )
    return lines
