"""Tenant provisioning (seed 004): a job with steps that reports `status:update` to the tenant's
room in /provisioning, then `status:completed {tenant_id, erpnext_url}` or `status:failed
{tenant_id, error}`. Safe to run twice: a completed job is not provisioned again, and steps
already done are skipped (the job's `step` is its checkpoint)."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Callback, Retry

from accounts.models import Tenant
from automation.models import ProvisioningJob
from automation.services import Conflict, InvalidInput, NotFound, QueueUnavailable
from jobs.queues import queue_named
from project.ids import parse_id
from realtime.emit import EmitError, emit, tenant_room

log = logging.getLogger(__name__)
P = ProvisioningJob.Status
NAMESPACE = "/provisioning"
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

# (step name, progress when done, message)
STEPS = [
    ("validate", 10, "Validating the tenant"),
    ("database", 35, "Creating the site database"),
    ("apps", 65, "Installing ERPNext apps"),
    ("configure", 85, "Configuring the site"),
    ("activate", 100, "Activating the site"),
]


class ProvisioningError(Exception):
    pass


def site_url(tenant: Tenant) -> str:
    domain = settings.PROVISIONING_BASE_DOMAIN
    return f"https://{tenant.slug}.{domain}"


def start(*, by, tenant_id: Any = None, step_seconds: float = 0.0, queue: str = "default") -> ProvisioningJob:
    """One active job per tenant: the tenant row is locked while checking (PostgreSQL), and a
    partial unique constraint on active jobs refuses a second one whatever the database."""
    tenant = _tenant_for(by, tenant_id)
    busy = Conflict("already_provisioning", f"tenant {tenant.pk} is already being provisioned")
    try:
        with transaction.atomic():
            Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
            if ProvisioningJob.objects.filter(tenant=tenant, status__in=(P.QUEUED, P.RUNNING)).exists():
                raise busy
            with transaction.atomic():  # a savepoint: the constraint may refuse the insert
                job = ProvisioningJob.objects.create(
                    tenant=tenant, requested_by=by, step_seconds=step_seconds, message="Provisioning queued"
                )
            transaction.on_commit(lambda: _announce_and_enqueue(job, queue))
    except IntegrityError as exc:
        raise busy from exc
    log.info("provisioning started job=%s tenant=%s by=%s", job.pk, tenant.pk, by.pk)
    return job


def _tenant_for(user, tenant_id: Any) -> Tenant:
    profile = getattr(user, "profile", None)
    if tenant_id is None:
        if profile is None:
            raise InvalidInput("no_tenant", "you belong to no tenant: pass tenant_id")
        return profile.tenant
    pk = parse_id(tenant_id)
    if pk is None:
        raise InvalidInput("invalid_tenant", "tenant_id must be a tenant's numeric id")
    if not user.is_staff and (profile is None or profile.tenant_id != pk):
        raise NotFound("not_found", f"no tenant {tenant_id}")
    tenant = Tenant.objects.filter(pk=pk).first()
    if tenant is None:
        raise NotFound("not_found", f"no tenant {tenant_id}")
    return tenant


QUEUE_DOWN_MESSAGE = "The job queue was unavailable, so provisioning was not started. Try again."


def _announce_and_enqueue(job: ProvisioningJob, queue: str) -> None:
    """After commit: tell the tenant it is queued (before the job can say anything), then enqueue.
    If Redis can't take the job, the job row is failed (not left "queued", which would also block
    every later attempt) and QueueUnavailable goes to the caller (HTTP 503)."""
    try:
        emit(
            "status:update",
            {"tenant_id": job.tenant_id, "status": P.QUEUED, "progress": 0, "message": "Provisioning queued"},
            room=tenant_room(job.tenant_id),
            namespace=NAMESPACE,
        )
    except EmitError as exc:
        log.warning("provisioning job %s: queued event not sent: %s", job.pk, exc)
    try:
        queue_named(queue).enqueue(
            "automation.provisioning.provision_tenant",
            kwargs={"job_id": job.pk},
            job_id=f"provisioning-{job.pk}",
            job_timeout=600,
            retry=Retry(max=1),
            on_failure=Callback("automation.provisioning.on_failure"),
            description=f"provision tenant {job.tenant_id}",
        )
    except RedisError as exc:
        log.error("provisioning job not enqueued job=%s: %s", job.pk, exc.__class__.__name__)
        ProvisioningJob.objects.filter(pk=job.pk, status=P.QUEUED).update(
            status=P.FAILED, message="Provisioning failed", error=QUEUE_DOWN_MESSAGE, finished_at=timezone.now()
        )
        raise QueueUnavailable("the job queue is unavailable; provisioning was not started, try again") from exc


def job_for(user, job_id: Any) -> ProvisioningJob:
    jobs = ProvisioningJob.objects.select_related("tenant")
    if not user.is_staff:
        profile = getattr(user, "profile", None)
        jobs = jobs.filter(tenant_id=profile.tenant_id if profile else -1)
    job = jobs.filter(pk=int(job_id)).first()
    if job is None:
        raise NotFound("not_found", f"no provisioning job {job_id}")
    return job


def state(job: ProvisioningJob) -> dict[str, Any]:
    return {
        "provisioning_id": job.pk,
        "tenant_id": job.tenant_id,
        "status": job.status,
        "step": job.step,
        "progress": job.progress,
        "message": job.message,
        "erpnext_url": job.erpnext_url or None,
        "error": job.error or None,
    }


def _update(job: ProvisioningJob, *, status: str, progress: int, message: str, step: str | None = None) -> None:
    changes: dict[str, Any] = {"status": status, "progress": progress, "message": message}
    if step is not None:
        changes["step"] = step
    ProvisioningJob.objects.filter(pk=job.pk).update(**changes)
    emit(
        "status:update",
        {"tenant_id": job.tenant_id, "status": status, "progress": progress, "message": message},
        room=tenant_room(job.tenant_id),
        namespace=NAMESPACE,
    )


def provision_tenant(*, job_id: int) -> dict[str, Any]:
    try:
        job = ProvisioningJob.objects.select_related("tenant").get(pk=job_id)
        if job.status in (P.COMPLETED, P.FAILED):
            return {"job_id": job_id, "skipped": job.status}
        done = [name for name, _, _ in STEPS].index(job.step) + 1 if job.step else 0
        pace = max(job.step_seconds, settings.PROVISIONING_STEP_SECONDS)
        for name, progress, message in STEPS[done:]:
            _update(job, status=P.RUNNING, progress=max(progress - 10, 0), message=f"{message}...")
            time.sleep(pace)  # the time the real step (bench new-site, install-app) takes
            if name == "validate" and not DNS_LABEL.match(job.tenant.slug):
                raise ProvisioningError(f"tenant slug {job.tenant.slug!r} is not a valid DNS label")
            _update(job, status=P.RUNNING, progress=progress, message=f"{message}: done", step=name)
        return _complete(job)
    except ProvisioningError as exc:
        _fail(job_id, str(exc))
        return {"job_id": job_id, "error": str(exc)}
    finally:
        close_old_connections()


def _complete(job: ProvisioningJob) -> dict[str, Any]:
    url = site_url(job.tenant)
    with transaction.atomic():
        if not ProvisioningJob.objects.filter(pk=job.pk, status__in=(P.QUEUED, P.RUNNING)).update(
            status=P.COMPLETED, progress=100, message="Site ready", erpnext_url=url, finished_at=timezone.now()
        ):
            return {"job_id": job.pk, "skipped": True}
        emit(
            "status:completed",
            {"tenant_id": job.tenant_id, "erpnext_url": url},
            room=tenant_room(job.tenant_id),
            namespace=NAMESPACE,
        )
    log.info("provisioning completed job=%s tenant=%s", job.pk, job.tenant_id)
    return {"job_id": job.pk, "erpnext_url": url}


def _fail(job_id: int, error: str) -> None:
    with transaction.atomic():
        job = ProvisioningJob.objects.filter(pk=job_id).first()
        if job is None or not ProvisioningJob.objects.filter(pk=job_id, status__in=(P.QUEUED, P.RUNNING)).update(
            status=P.FAILED, error=error[:500], message="Provisioning failed", finished_at=timezone.now()
        ):
            return
        emit(
            "status:failed",
            {"tenant_id": job.tenant_id, "error": error[:500]},
            room=tenant_room(job.tenant_id),
            namespace=NAMESPACE,
        )
    log.warning("provisioning failed job=%s tenant=%s: %s", job_id, job.tenant_id, error[:200])


def on_failure(job, connection, exc_type, exc_value, traceback, *args: Any, **kwargs: Any) -> None:
    """The job raised or its worker died: retry from the last step, or fail with a message."""
    close_old_connections()
    if job.retries_left:
        return
    name = getattr(exc_type, "__name__", str(exc_type))
    _fail((job.kwargs or {}).get("job_id"), f"provisioning stopped unexpectedly ({name})")
