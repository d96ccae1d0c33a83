"""In-game jobs (seed 000): openings with requirements, applications that a background job
decides, and the employment a hire creates."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from billing.models.bank import MONEY


class JobOpening(models.Model):
    title = models.CharField(max_length=100)
    employer = models.CharField(max_length=100)
    salary = models.DecimalField(**MONEY)
    required_skills = models.JSONField(default=list, blank=True, help_text='e.g. ["driving", "cooking"]')
    min_experience_years = models.PositiveSmallIntegerField(default=0)
    headcount = models.PositiveSmallIntegerField(default=1, help_text="How many players it hires")
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.title} at {self.employer}"


class JobApplication(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        HIRED = "hired"
        REJECTED = "rejected"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_applications")
    opening = models.ForeignKey(JobOpening, on_delete=models.CASCADE, related_name="applications")
    skills = models.JSONField(default=list, blank=True)
    experience_years = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    decision = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # The request's idempotency key (the client's, or billing/dedupe.py's for a keyless double
    # submit): a repeat finds this application instead of making a second one.
    client_key = models.CharField(max_length=100, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "client_key"], name="job_application_once_per_client_key")
        ]

    def __str__(self) -> str:
        return f"{self.user} -> {self.opening} ({self.status})"


class Employment(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="employments")
    opening = models.ForeignKey(JobOpening, on_delete=models.PROTECT, related_name="employments")
    application = models.OneToOneField(JobApplication, on_delete=models.PROTECT, related_name="employment")
    salary = models.DecimalField(**MONEY)
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "opening"], name="one_employment_per_opening")]

    def __str__(self) -> str:
        return f"{self.user} works as {self.opening}"
