"""Changes that remove access, turned into revocations of live connections (realtime.revocation).

Driven by the models' own signals and Django's auth signals, so a change made anywhere (a view,
the admin, a shell, a job) counts. Each change publishes one command, after its transaction
commits, to every server process:

- logout: that session's connections close (`access_revoked`); the user's other sessions stay;
- session deleted otherwise (flushed, cleared by an admin): its connections close (`session_expired`);
- password changed (Django's session auth hash): the user's session connections close;
- deactivated or deleted user, tenant changed: all the user's connections close;
- staff flag removed: the user's connections re-check their rooms (leave `staff`: `room_revoked`);
- removed from a project (or the project's members cleared, or the project deleted): the user's
  connections re-check their rooms (leave `project:{id}` and that project's job and run rooms);
- API token revoked (`revoked_at` set) or deleted: the connections opened with it close
  (`token_revoked`);
- JWTs revoked (accounts.models.JwtCutoff moved forward): JWT connections whose token was issued
  at or before the cutoff close (`token_revoked`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import ApiToken, JwtCutoff, Profile, Project
from realtime import revocation
from realtime.revocation import ACCESS_REVOKED, SESSION_EXPIRED, TOKEN_REVOKED

log = logging.getLogger(__name__)
User = get_user_model()


@receiver(user_logged_out, dispatch_uid="revocation-logout")
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is None or session_key is None:
        return
    revocation.close_user(user.pk, ACCESS_REVOKED, "you logged out", via="session", session_key=session_key)


@receiver(post_delete, sender=Session, dispatch_uid="revocation-session-deleted")
def on_session_deleted(sender: Any, instance: Session, **kwargs: Any) -> None:
    if instance.expire_date <= timezone.now():
        return  # `clearsessions`: its connections were closed when it expired (realtime.revocation)
    try:
        user_id = instance.get_decoded().get("_auth_user_id")
    except Exception:  # a session that does not decode was nobody's
        return
    if user_id is not None and str(user_id).isdigit():
        revocation.close_user(
            int(user_id), SESSION_EXPIRED, "your session has ended", via="session", session_key=instance.session_key
        )


# What a row was before its save, for the post_save receivers to compare (None: a new row, or a
# fixture being loaded).
WATCHED_FIELDS = {User: ("is_active", "is_staff", "password"), Profile: ("tenant",), ApiToken: ("revoked_at",)}


def remember(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or raw:
        return
    if update_fields is not None and not set(update_fields) & set(WATCHED_FIELDS[sender]):
        return  # e.g. `last_login` on each login: nothing watched changes, no query
    instance._access_before = sender.objects.filter(pk=instance.pk).values(*WATCHED_FIELDS[sender]).first()


for _model in WATCHED_FIELDS:
    pre_save.connect(remember, sender=_model, dispatch_uid=f"revocation-before-{_model._meta.label}")


def _before(instance: Any) -> dict[str, Any] | None:
    before = getattr(instance, "_access_before", None)
    instance._access_before = None
    return before


@receiver(post_save, sender=User, dispatch_uid="revocation-user-after")
def on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    before = _before(instance)
    if created or before is None:
        return
    if before["is_active"] and not instance.is_active:
        revocation.close_user(instance.pk, ACCESS_REVOKED, "your account was deactivated")
        return
    if before["password"] != instance.password:
        revocation.close_user(instance.pk, ACCESS_REVOKED, "your password was changed; log in again", via="session")
    if before["is_staff"] and not instance.is_staff:
        revocation.recheck_user(instance.pk, "you are no longer staff")


@receiver(post_delete, sender=User, dispatch_uid="revocation-user-deleted")
def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    revocation.close_user(instance.pk, ACCESS_REVOKED, "your account was deleted")


@receiver(post_save, sender=Profile, dispatch_uid="revocation-profile-after")
def on_tenant_changed(sender: Any, instance: Profile, created: bool, **kwargs: Any) -> None:
    before = _before(instance)
    if not created and before is not None and before["tenant"] != instance.tenant_id:
        revocation.close_user(instance.user_id, ACCESS_REVOKED, "your account moved to another tenant")


@receiver(pre_delete, sender=Profile, dispatch_uid="revocation-profile-deleted")
def on_profile_deleted(sender: Any, instance: Profile, **kwargs: Any) -> None:
    revocation.close_user(instance.user_id, ACCESS_REVOKED, "your account left its tenant")


@receiver(m2m_changed, sender=Project.members.through, dispatch_uid="revocation-project-members")
def on_members_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    """Members removed from a project (from either side of the relation, or cleared)."""
    if action == "pre_clear":
        # the members are gone after the clear: remember who they were
        if reverse:
            instance._members_cleared = [instance.pk]
        else:
            instance._members_cleared = list(instance.members.values_list("pk", flat=True))
        return
    if action == "post_clear":
        user_ids = getattr(instance, "_members_cleared", [])
        instance._members_cleared = []
    elif action == "post_remove":
        user_ids = [instance.pk] if reverse else list(pk_set or ())
    else:
        return
    for user_id in user_ids:
        revocation.recheck_user(user_id, "you are no longer a member of this project")


@receiver(pre_delete, sender=Project, dispatch_uid="revocation-project-deleted")
def on_project_deleted(sender: Any, instance: Project, **kwargs: Any) -> None:
    for user_id in instance.members.values_list("pk", flat=True):
        revocation.recheck_user(user_id, "the project was deleted")


@receiver(post_save, sender=ApiToken, dispatch_uid="revocation-token-after")
def on_token_saved(sender: Any, instance: ApiToken, created: bool, **kwargs: Any) -> None:
    before = _before(instance)
    if instance.revoked_at is not None and (created or before is None or before["revoked_at"] is None):
        _close_token(instance, "the API token was revoked")


@receiver(post_delete, sender=ApiToken, dispatch_uid="revocation-token-deleted")
def on_token_deleted(sender: Any, instance: ApiToken, **kwargs: Any) -> None:
    _close_token(instance, "the API token was deleted")


def _close_token(token: ApiToken, message: str) -> None:
    revocation.close_user(token.user_id, TOKEN_REVOKED, message, via="api_token", api_token_id=token.pk)


@receiver(post_save, sender=JwtCutoff, dispatch_uid="revocation-jwt-cutoff")
def on_jwt_cutoff(sender: Any, instance: JwtCutoff, **kwargs: Any) -> None:
    revocation.close_user(
        instance.user_id, TOKEN_REVOKED, "your tokens were revoked", jwt_issued_before=instance.valid_after.timestamp()
    )
