"""Who is who: tenants, the tenant a user belongs to, projects and their members, API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models


class Tenant(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    """The tenant a user belongs to (one tenant per user, as seed 004's JWTs carry it)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="profiles")

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}"


# A project's string key (seed 002's clients say `project_456`): letters, digits, `_` and -, not
# all digits (a number is the project's id), at most 20 characters (the contract's limit). A
# project without a key of its own answers to `project_<id>` (derived, never stored).
PROJECT_KEY_RE = re.compile(r"^(?![0-9]+$)[A-Za-z0-9_-]{1,20}$")
DEFAULT_KEY_RE = re.compile(r"^project_([0-9]{1,18})$")


class Project(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    key = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        validators=[RegexValidator(PROJECT_KEY_RE, "letters, digits, _ and -, not only digits, at most 20")],
        help_text="How clients may address the project besides its id (unique in its tenant); "
        "without one it answers to project_<id>",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="projects", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="project_name_per_tenant"),
            models.UniqueConstraint(fields=["tenant", "key"], name="project_key_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def client_key(self) -> str:
        """The key clients may use: its own, or the derived `project_<id>`."""
        return self.key or f"project_{self.pk}"


def hash_api_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """An opaque token for service clients (seed 002 passes it as `?token=`). Only its hash is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token in lists")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def create_for(cls, *, user, name: str) -> tuple[ApiToken, str]:
        """Create a token; returns the row and the raw token, which is shown once and never stored."""
        raw = "rt_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=raw[:10], key_hash=hash_api_token(raw))
        return token, raw


class JwtCutoff(models.Model):
    """JWT revocation before `exp`: a user's JWTs issued (`iat`) before `valid_after` are refused
    (accounts.tokens.user_for_jwt), on HTTP and on sockets. One row per user, moved forward by
    "Revoke JWTs" (admin) or `accounts.revocation.revoke_jwts`; tokens issued later work again."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jwt_cutoff")
    valid_after = models.DateTimeField()

    def __str__(self) -> str:
        return f"JWTs of {self.user} valid after {self.valid_after:%Y-%m-%d %H:%M:%S}"
