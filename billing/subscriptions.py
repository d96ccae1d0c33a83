"""Tenant subscriptions (seed 004): change one, record a payment, warn before expiry, expire.

Events go to the tenant's room on /billing, after commit: `subscription:updated {subscription}`,
`payment:received {amount, currency}` (amount as a decimal string), `subscription:expiring
{days_left}` once per threshold and billing period (ExpiryWarning rows record what was sent).
A payment, an expiry warning and an expiry are also stored as a notification for every user of
the tenant, in the same transaction: the room may be empty, the notification waits for them."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import ExpiryWarning, Plan, Subscription, TenantPayment
from notifications.models import Notification
from notifications.services import notify_tenant
from realtime.emit import emit, tenant_room

log = logging.getLogger(__name__)

NAMESPACE = "/billing"
WARNING_THRESHOLDS_DAYS = (14, 7, 3, 1)


def announce(subscription: Subscription) -> None:
    """`subscription:updated` to the tenant (after commit when called inside a transaction)."""
    emit(
        "subscription:updated",
        {"subscription": subscription.as_event()},
        room=tenant_room(subscription.tenant_id),
        namespace=NAMESPACE,
    )


def subscribe(
    *, tenant_id: int, plan: Plan, expires_on: date, status: str = Subscription.Status.ACTIVE
) -> Subscription:
    """Create or replace the tenant's subscription."""
    with transaction.atomic():
        subscription, _ = Subscription.objects.update_or_create(
            tenant_id=tenant_id, defaults={"plan": plan, "expires_on": expires_on, "status": status}
        )
        announce(subscription)
    log.info("subscription set tenant=%s plan=%s status=%s", tenant_id, plan.code, status)
    return subscription


def change_subscription(
    *, tenant_id: int, plan: Plan | None = None, status: str | None = None, expires_on: date | None = None
) -> Subscription:
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().select_related("plan").get(tenant_id=tenant_id)
        if plan is not None:
            subscription.plan = plan
        if status is not None:
            if status not in Subscription.Status.values:
                raise ValueError(f"unknown subscription status {status!r}")
            subscription.status = status
        if expires_on is not None:
            subscription.expires_on = expires_on
        subscription.save()
        announce(subscription)
    log.info("subscription changed tenant=%s status=%s", tenant_id, subscription.status)
    return subscription


def record_payment(
    *, tenant_id: int, amount: Decimal, currency: str, idempotency_key: str, reference: str = ""
) -> tuple[TenantPayment, bool]:
    """Record a tenant's payment once per idempotency key; a payment in the plan's currency of at
    least its price renews the subscription for one period. Returns (payment, created).

    The subscription row lock serialises two runs for one tenant; without a subscription there
    is no row to lock, so two concurrent runs with one key can both get past the check: the
    unique key refuses the second insert, and that run answers with the first run's payment."""
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update().select_related("plan").filter(tenant_id=tenant_id).first()
        )
        existing = TenantPayment.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():  # a savepoint: the insert may lose the race for the key
                payment = TenantPayment.objects.create(
                    tenant_id=tenant_id,
                    amount=amount,
                    currency=currency,
                    reference=reference,
                    idempotency_key=idempotency_key,
                )
        except IntegrityError:
            existing = TenantPayment.objects.filter(idempotency_key=idempotency_key).first()
            if existing is None:
                raise
            log.info("tenant payment raced a concurrent run key=%s payment=%s", idempotency_key, existing.pk)
            return existing, False
        emit(
            "payment:received",
            {"amount": str(payment.amount), "currency": payment.currency},
            room=tenant_room(tenant_id),
            namespace=NAMESPACE,
        )
        notify_tenant(
            tenant_id=tenant_id,
            title="Payment received",
            message=f"We received your payment of {payment.amount} {payment.currency}.",
            kind=Notification.Type.BILLING,
        )
        if subscription and currency == subscription.plan.currency and amount >= subscription.plan.price:
            start = max(timezone.localdate(), subscription.expires_on)
            subscription.expires_on = start + timedelta(days=subscription.plan.period_days)
            subscription.status = Subscription.Status.ACTIVE
            subscription.save(update_fields=["expires_on", "status", "updated_at"])
            announce(subscription)
    log.info("tenant payment recorded tenant=%s payment=%s", tenant_id, payment.pk)
    return payment, True


def _warn_one(subscription_id: int, today: date) -> bool:
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
        days_left = (subscription.expires_on - today).days
        if subscription.status not in Subscription.LIVE or days_left < 0:
            return False
        due = [t for t in WARNING_THRESHOLDS_DAYS if days_left <= t]
        sent = set(
            ExpiryWarning.objects.filter(subscription=subscription, expires_on=subscription.expires_on).values_list(
                "threshold_days", flat=True
            )
        )
        new = [t for t in due if t not in sent]
        if not new:
            return False
        # One warning covers every threshold crossed since the last run (a subscription that
        # starts 5 days from expiry gets one warning, not the 14- and 7-day ones at once).
        ExpiryWarning.objects.bulk_create(
            ExpiryWarning(
                subscription=subscription, threshold_days=t, expires_on=subscription.expires_on, days_left=days_left
            )
            for t in new
        )
        emit(
            "subscription:expiring",
            {"days_left": days_left},
            room=tenant_room(subscription.tenant_id),
            namespace=NAMESPACE,
        )
        when = "today" if days_left == 0 else f"in {days_left} day{'s' if days_left != 1 else ''}"
        notify_tenant(
            tenant_id=subscription.tenant_id,
            title="Subscription expiring",
            message=f"Your subscription expires {when}, on {subscription.expires_on.isoformat()}.",
            kind=Notification.Type.WARNING,
        )
    log.info("expiry warning tenant=%s days_left=%s thresholds=%s", subscription.tenant_id, days_left, new)
    return True


def warn_expiring(*, today: date | None = None) -> int:
    """Warn every tenant whose subscription expires within the largest threshold, once per
    threshold. Safe to run as often as the scheduler likes; returns the number of warnings sent."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=max(WARNING_THRESHOLDS_DAYS))
    candidates = Subscription.objects.filter(
        status__in=Subscription.LIVE, expires_on__gte=today, expires_on__lte=horizon
    ).values_list("pk", flat=True)
    return sum(_warn_one(pk, today) for pk in list(candidates))


def expire_lapsed(*, today: date | None = None) -> int:
    """Mark live subscriptions past their date expired, and tell their tenants."""
    today = today or timezone.localdate()
    count = 0
    for pk in list(
        Subscription.objects.filter(status__in=Subscription.LIVE, expires_on__lt=today).values_list("pk", flat=True)
    ):
        with transaction.atomic():
            subscription = Subscription.objects.select_for_update().select_related("plan").get(pk=pk)
            if subscription.status in Subscription.LIVE and subscription.expires_on < today:
                subscription.status = Subscription.Status.EXPIRED
                subscription.save(update_fields=["status", "updated_at"])
                announce(subscription)
                notify_tenant(
                    tenant_id=subscription.tenant_id,
                    title="Subscription expired",
                    message=f"Your {subscription.plan.name} subscription expired on "
                    f"{subscription.expires_on.isoformat()}.",
                    kind=Notification.Type.WARNING,
                )
                count += 1
    return count
