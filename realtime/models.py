"""Durable records of the realtime layer: the event outbox (realtime/outbox.py: events emitted
inside a transaction, stored with it) and revocation commands (realtime/revocation.py)."""

from __future__ import annotations

from django.db import models


class OutboxEvent(models.Model):
    """One event committed with the change it announces and not yet confirmed published.

    A row is deleted once Redis confirmed the publish (so the table holds only the backlog).
    `deferred`: the relay publishes it (the publish after commit failed, or an older event of the
    same room was deferred when it was written: a room's events go out in id order)."""

    created_at = models.DateTimeField(db_index=True)
    # Which Redis the event is for (a hash of the writer's REDIS_URL): a relay publishes only the
    # rows of the Redis it is configured with (processes on another Redis share this database in
    # the test suite; a second deployment might too).
    target = models.CharField(max_length=16)
    event = models.CharField(max_length=100)
    room = models.CharField(max_length=200)
    namespace = models.CharField(max_length=100)
    payload = models.JSONField()
    deferred = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["room"], name="rt_outbox_deferred_room", condition=models.Q(deferred=True)),
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.room} ({self.namespace}) #{self.pk}"


class RevocationCommand(models.Model):
    """A revocation command (realtime.revocation.Command), written in the transaction of the change
    that removes access. Server processes get it over Redis pub/sub at once, and also read this
    table every REALTIME_REVOCATION_POLL_SECONDS: a command whose publish failed (Redis down or
    hung) or that a server's subscription missed (it was reconnecting) still takes effect. Rows
    older than REALTIME_REVOCATION_KEEP_SECONDS are deleted by the servers."""

    created_at = models.DateTimeField(db_index=True)
    payload = models.JSONField()

    def __str__(self) -> str:
        return f"revocation #{self.pk} {self.payload.get('action')} user={self.payload.get('user_id')}"
