"""Automation runs (seed 003's stock-report runs), their per-ticker state, the local publication
store, and tenant provisioning jobs (seed 004). The database is the truth: the job, the pages,
the admin and the snapshot all read these rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PublishingProfile(models.Model):
    """Where a user's reports go (seed 003's `profile_id`): the local publication store today,
    a WordPress site later (publishers.py picks the publisher by `kind`)."""

    class Kind(models.TextChoices):
        LOCAL = "local", "Local publication store"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="publishing_profiles")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LOCAL)
    accepting = models.BooleanField(default=True, help_text="Off: the store refuses posts (a site that is down)")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class AutomationRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PAUSED = "paused"
        CANCELLED = "cancelled"
        COMPLETED = "completed"
        FAILED = "failed"

    class Request(models.TextChoices):
        NONE = "", "none"
        PAUSE = "pause"
        CANCEL = "cancel"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.CANCELLED, Status.COMPLETED, Status.FAILED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="automation_runs")
    profile = models.ForeignKey(PublishingProfile, on_delete=models.PROTECT, related_name="runs")
    tickers = models.JSONField(help_text="Tickers in the order they are processed")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    requested = models.CharField(
        max_length=10, choices=Request.choices, default="", blank=True, help_text="Pause or cancel asked for"
    )
    stage = models.CharField(max_length=20, default="initializing")
    percent = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    job_id = models.CharField(max_length=64, blank=True, help_text="The RQ job that owns the run now")
    queue = models.CharField(max_length=100, default="default")
    step_seconds = models.FloatField(default=0, help_text="Extra time per step (demos and tests)")
    worker_pid = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class TickerState(models.Model):
    """One ticker of a run: seed 003's per-ticker "Firestore document"."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        PUBLISHED = "published"
        FAILED = "failed"
        CANCELLED = "cancelled"

    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="ticker_states")
    ticker = models.CharField(max_length=10)
    position = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    report = models.JSONField(null=True, blank=True)
    published_id = models.CharField(max_length=64, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    recoverable = models.BooleanField(default=True)
    attempts = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "ticker"], name="one_state_per_run_ticker")]

    def __str__(self) -> str:
        return f"{self.ticker} ({self.status})"


class Publication(models.Model):
    """The project's own publication store. `key` (run + ticker) makes publishing idempotent: a
    job that runs twice finds the post it already made instead of making another."""

    key = models.CharField(max_length=100, unique=True)
    profile = models.ForeignKey(PublishingProfile, on_delete=models.PROTECT, related_name="publications")
    run = models.ForeignKey(AutomationRun, null=True, on_delete=models.SET_NULL, related_name="publications")
    ticker = models.CharField(max_length=10, db_index=True)
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class ProvisioningJob(models.Model):
    """Provisioning a tenant's ERP site (seed 004)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="provisioning_jobs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    step = models.CharField(max_length=50, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    erpnext_url = models.URLField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    step_seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_provisioning_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return f"provisioning {self.tenant} ({self.status})"
