"""Seed 000's endpoints (202 at once, the answer comes as an event to the player's room) and
the tenant's subscription for seed 004 clients that reload after `resync_required`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse

from accounts.http import ApiError, api_view, json_body, refuse_control_characters
from billing import bank, dedupe, tasks
from billing.models import BankAccount, JobApplication, JobOpening, Liability, Subscription
from billing.money import parse_amount
from project.ids import parse_id

CLIENT_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _own(request: HttpRequest, username: str) -> None:
    if username != request.user.get_username():
        raise ApiError(403, "you can only act on your own account", "forbidden")


def _client_key(request: HttpRequest, body: dict[str, Any]) -> str | None:
    """The client's Idempotency-Key (header or body): a double submit with the same key is done
    once. None: the client sent none (billing/dedupe.py then fingerprints the request)."""
    raw = request.headers.get("Idempotency-Key") or body.get("idempotency_key")
    if raw is None:
        return None
    if not isinstance(raw, str) or not CLIENT_KEY.match(raw):
        raise ApiError(400, "idempotency key must be 1-64 characters of A-Z a-z 0-9 _ . : -", "invalid_input")
    return raw


def _text(body: dict[str, Any], name: str, *, required: bool, max_length: int) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_length:
        need = "a non-empty string" if required else "a string"
        raise ApiError(400, f"{name} must be {need} of at most {max_length} characters", "invalid_input")
    return refuse_control_characters(value.strip(), name, single_line=True)


def _amount(body: dict[str, Any], *, required: bool = True) -> str | None:
    if "amount" not in body and not required:
        return None
    try:
        return str(parse_amount(body.get("amount")))
    except ValueError as exc:
        raise ApiError(400, str(exc), "invalid_amount") from None


QUEUE_UNAVAILABLE = "the job queue is unavailable; nothing was done, try again"


def _enqueue(func_path: str, kwargs: dict[str, Any]) -> None:
    try:
        tasks.enqueue(func_path, kwargs=kwargs)
    except tasks.EnqueueError:
        raise ApiError(503, QUEUE_UNAVAILABLE, "queue_unavailable") from None


def _accepted(message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"status": "accepted", "message": message, **extra}, status=202)


def _claim(request: HttpRequest, *, explicit_key: str | None, endpoint: str, body: dict[str, Any]) -> dedupe.Claim:
    """The request's idempotency key: the client's, or one shared by every identical keyless
    request inside the dedupe window (billing/dedupe.py)."""
    if explicit_key is not None:
        return dedupe.Claim(client_key=explicit_key, duplicate=False)
    try:
        return dedupe.claim(user_id=request.user.pk, endpoint=endpoint, body=body)
    except dedupe.DedupeUnavailable:
        raise ApiError(503, QUEUE_UNAVAILABLE, "queue_unavailable") from None


def _move_money_once(
    request: HttpRequest,
    *,
    explicit_key: str | None,
    func_path: str,
    kwargs: dict[str, Any],
    make_key: Callable[[int, str], str],
    message: str,
) -> JsonResponse:
    """Enqueue a money job under an idempotency key: the client's, or else one shared by every
    identical request inside the dedupe window (billing/dedupe.py). A repeat's job moves nothing
    and answers again (`replayed: true`), as a repeat with an explicit key does."""
    user_id = request.user.pk
    found = _claim(request, explicit_key=explicit_key, endpoint=func_path, body=kwargs)
    _enqueue(func_path, {"user_id": user_id, **kwargs, "idempotency_key": make_key(user_id, found.client_key)})
    return _accepted(message, idempotency_key=found.client_key, duplicate=found.duplicate)


@api_view(("POST",))
def make_payment(request: HttpRequest, username: str) -> JsonResponse:
    """POST /api/bank/<username>/make_payment {amount, payee, description?} -> 202; then `payment_complete`."""
    _own(request, username)
    body = json_body(request)
    amount = _amount(body)
    payee = _text(body, "payee", required=True, max_length=100)
    description = _text(body, "description", required=False, max_length=200)
    explicit_key = _client_key(request, body)
    if not BankAccount.objects.filter(user=request.user).exists():
        raise ApiError(404, "you have no bank account", "not_found")
    return _move_money_once(
        request,
        explicit_key=explicit_key,
        func_path="billing.tasks.make_payment",
        kwargs={"amount": amount, "payee": payee, "description": description},
        make_key=bank.payment_key,
        message="payment is being processed; listen for payment_complete",
    )


@api_view(("POST",))
def update_liability(request: HttpRequest, username: str) -> JsonResponse:
    """POST /api/balancesheet/<username>/liability/update {liability_id, amount?} -> 202; then
    `liabilities_offset_complete`. Without an amount, all that is outstanding is offset."""
    _own(request, username)
    body = json_body(request)
    liability_id = parse_id(body.get("liability_id"), strings=False)
    if not liability_id:  # not a JSON integer id (a string too), or 0
        raise ApiError(400, "liability_id must be a liability's numeric id", "invalid_input")
    amount = _amount(body, required=False)
    explicit_key = _client_key(request, body)
    if not Liability.objects.filter(pk=liability_id, balance_sheet__user=request.user).exists():
        raise ApiError(404, "no such liability on your balance sheet", "not_found")
    return _move_money_once(
        request,
        explicit_key=explicit_key,
        func_path="billing.tasks.offset_liability",
        kwargs={"liability_id": liability_id, "amount": amount},
        make_key=bank.offset_key,
        message="liability update is being processed; listen for liabilities_offset_complete",
    )


def _skills(body: dict[str, Any]) -> list[str]:
    skills = body.get("skills", [])
    if (
        not isinstance(skills, list)
        or len(skills) > 50
        or not all(isinstance(s, str) and 0 < len(s) <= 50 for s in skills)
    ):
        raise ApiError(400, "skills must be a list of at most 50 short strings", "invalid_input")
    return sorted({refuse_control_characters(s, "a skill", single_line=True) for s in skills})


@api_view(("POST",))
def apply_for_job(request: HttpRequest) -> JsonResponse:
    """POST /api/jobs/apply {opening_id, skills?, experience_years?} -> 202 {application_id}; then
    `job_application_complete` (hired: success shape; rejected: error shape with the reason)."""
    body = json_body(request)
    opening_id = parse_id(body.get("opening_id"), strings=False)
    if not opening_id:  # not a JSON integer id (a string too), or 0
        raise ApiError(400, "opening_id must be a job opening's numeric id", "invalid_input")
    experience = body.get("experience_years", 0)
    if not isinstance(experience, int) or isinstance(experience, bool) or not 0 <= experience <= 100:
        raise ApiError(400, "experience_years must be an integer from 0 to 100", "invalid_input")
    skills = _skills(body)
    explicit_key = _client_key(request, body)
    opening = JobOpening.objects.filter(pk=opening_id).first()
    if opening is None:
        raise ApiError(404, "no such job opening", "not_found")
    found = _claim(
        request,
        explicit_key=explicit_key,
        endpoint="billing.tasks.decide_application",
        body={"opening_id": opening_id, "skills": skills, "experience_years": experience},
    )
    # A repeat (same key, or an identical keyless request inside the dedupe window) finds the
    # first request's application; its job answers again with the same decision.
    try:
        # get_or_create re-reads the row when a racing request created it first
        application, created = JobApplication.objects.get_or_create(
            user=request.user,
            client_key=found.client_key,
            defaults={"opening": opening, "skills": skills, "experience_years": experience},
        )
    except (IntegrityError, JobApplication.DoesNotExist):
        # the racing request's row was gone by the re-read (its enqueue failed and it removed
        # it), or the opening was deleted meanwhile: nothing was done here
        raise ApiError(409, "the application changed while it was submitted; try again", "conflict") from None
    if not created and (application.opening_id, application.skills, application.experience_years) != (
        opening.pk,
        skills,
        experience,
    ):
        raise ApiError(409, "this idempotency key was used for another application", "idempotency_conflict")
    try:
        _enqueue("billing.tasks.decide_application", {"application_id": application.pk, "user_id": request.user.pk})
    except ApiError:
        if created:
            application.delete()  # never queued: leave no pending application behind
        raise
    return _accepted(
        "application received; listen for job_application_complete",
        application_id=application.pk,
        idempotency_key=found.client_key,
        duplicate=not created,
    )


@api_view(("GET",))
def job_openings(request: HttpRequest) -> JsonResponse:
    openings = JobOpening.objects.filter(is_open=True).order_by("pk")[:200]
    return JsonResponse(
        {
            "openings": [
                {
                    "id": o.pk,
                    "title": o.title,
                    "employer": o.employer,
                    "salary": str(o.salary),
                    "required_skills": o.required_skills,
                    "min_experience_years": o.min_experience_years,
                }
                for o in openings
            ]
        }
    )


@api_view(("GET",))
def bank_account(request: HttpRequest, username: str) -> JsonResponse:
    """GET /api/bank/<username>: the balance and recent payments (what a client reloads)."""
    _own(request, username)
    account = BankAccount.objects.filter(user=request.user).first()
    if account is None:
        raise ApiError(404, "you have no bank account", "not_found")
    payments = [
        {
            "id": p.pk,
            "amount": str(p.amount),
            "payee": p.payee,
            "status": p.status,
            "created_at": p.created_at.isoformat(),
        }
        for p in account.payments.all()[:50]
    ]
    return JsonResponse({"balance": str(account.balance), "currency": account.currency, "payments": payments})


@api_view(("GET",))
def subscription(request: HttpRequest) -> JsonResponse:
    """GET /api/billing/subscription: the caller's tenant's subscription."""
    profile = getattr(request.user, "profile", None)
    found = Subscription.objects.select_related("plan").filter(tenant_id=profile.tenant_id).first() if profile else None
    if found is None:
        raise ApiError(404, "your tenant has no subscription", "not_found")
    return JsonResponse({"subscription": found.as_event()})
