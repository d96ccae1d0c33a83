"""Deciding a player's application for an in-game job (seed 000): the opening's requirements,
its headcount, and one employment per player and opening. Deciding twice gives the first answer."""

from __future__ import annotations

import logging
from dataclasses import replace

from django.db import transaction
from django.utils import timezone

from billing.models import Employment, JobApplication, JobOpening
from billing.outcomes import Outcome, refused

log = logging.getLogger(__name__)


def _outcome(application: JobApplication, *, created: bool) -> Outcome:
    if application.status == JobApplication.Status.HIRED:
        employment = application.employment
        return Outcome(
            ok=True,
            message=f"You were hired as {application.opening.title} at {application.opening.employer}",
            payload={
                "application_id": application.pk,
                "opening_id": application.opening_id,
                "employment_id": employment.pk,
                "title": application.opening.title,
                "salary": str(employment.salary),
                "replayed": not created,
            },
            created=created,
        )
    return replace(refused("rejected", application.decision), created=created)


def _rejection(application: JobApplication, opening: JobOpening) -> str:
    if not opening.is_open:
        return f"{opening.title} is no longer open"
    missing = sorted(set(opening.required_skills) - set(application.skills))
    if missing:
        return f"Missing required skills: {', '.join(missing)}"
    if application.experience_years < opening.min_experience_years:
        return f"{opening.title} needs {opening.min_experience_years} years of experience"
    if Employment.objects.filter(user_id=application.user_id, opening=opening).exists():
        return f"You already work as {opening.title}"
    if opening.employments.count() >= opening.headcount:
        return f"{opening.title} has no positions left"
    return ""


def recorded_decision(application_id: int) -> Outcome | None:
    """The decision already made on an application (None: still pending, or gone)."""
    application = JobApplication.objects.select_related("opening").filter(pk=application_id).first()
    if application is None or application.status == JobApplication.Status.PENDING:
        return None
    return _outcome(application, created=False)


def decide(*, application_id: int) -> Outcome:
    with transaction.atomic():
        application = JobApplication.objects.select_for_update().select_related("opening").get(pk=application_id)
        if application.status != JobApplication.Status.PENDING:
            log.info("application already decided id=%s status=%s", application.pk, application.status)
            return _outcome(application, created=False)
        opening = JobOpening.objects.select_for_update().get(pk=application.opening_id)  # headcount check
        reason = _rejection(application, opening)
        application.decided_at = timezone.now()
        if reason:
            application.status = JobApplication.Status.REJECTED
            application.decision = reason
        else:
            application.status = JobApplication.Status.HIRED
            application.decision = "hired"
            Employment.objects.create(
                user_id=application.user_id, opening=opening, application=application, salary=opening.salary
            )
        application.save(update_fields=["status", "decision", "decided_at"])
    log.info("application decided id=%s status=%s", application.pk, application.status)
    return _outcome(application, created=True)
