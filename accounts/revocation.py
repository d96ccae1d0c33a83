"""Revocation by hand (the admin's user actions, the live ops page), audited in the log and in
the admin's history. The live connections are reached through realtime.revocation."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone

from accounts.models import JwtCutoff
from realtime import revocation

log = logging.getLogger(__name__)


def _audit(actor: Any, user: Any, what: str) -> None:
    log.warning("audit: %s user=%s (%s) by=%s", what, user.pk, user.get_username(), actor.get_username())
    LogEntry.objects.log_actions(
        user_id=actor.pk, queryset=[user], action_flag=CHANGE, change_message=what, single_object=True
    )


def disconnect_user(user: Any, *, actor: Any) -> None:
    """Close every live connection of `user`, on every server process (`access_revoked`). The
    user may connect again: to keep them out, deactivate them or revoke their tokens too."""
    with transaction.atomic():
        _audit(actor, user, "Disconnected all sockets")
        revocation.close_user(user.pk, revocation.ACCESS_REVOKED, "an administrator disconnected you")


def revoke_jwts(user: Any, *, actor: Any) -> None:
    """Refuse every JWT of `user` issued until now (HTTP and sockets), and close the JWT
    connections (`token_revoked`); tokens issued from the next second on work."""
    with transaction.atomic():
        JwtCutoff.objects.update_or_create(user=user, defaults={"valid_after": timezone.now()})
        _audit(actor, user, "Revoked JWTs")
