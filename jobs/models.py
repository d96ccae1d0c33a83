"""A database record for each tracked RQ job (seed 002's jobs): the truth a client rebuilds from."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from realtime.host import project_model_label


class JobRecord(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCESS = "success"
        ERROR = "error"

    TERMINAL = (Status.SUCCESS, Status.ERROR)

    id = models.CharField(primary_key=True, max_length=64, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=100, db_index=True)
    project = models.ForeignKey(
        project_model_label(), null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0)
    message = models.CharField(max_length=500, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # What was enqueued, so a job whose queue state was lost (Redis restarted empty) can be
    # enqueued again (jobs/reaper.py sweep_lost_jobs). Tracked job functions must be safe to run
    # twice. Blank `func`: a record from before these fields, which can't be re-enqueued.
    func = models.CharField(max_length=200, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=100, default="default")
    timeout = models.PositiveIntegerField(null=True, blank=True)
    max_retries = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def runs_left(self) -> int:
        """Runs it may still have: the first plus `max_retries`, less those started."""
        return max(0, self.max_retries + 1 - self.attempts)

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    def as_state(self) -> dict:
        """The job as a client sees it (project snapshots)."""
        return {
            "job_id": str(self.id),
            "kind": self.kind,
            "status": self.status,
            "progress": self.progress,
            "message": self.message,
            "result": self.result,
            "error": self.error or None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }
