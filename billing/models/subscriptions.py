"""Tenant billing (seed 004): plans, one subscription per tenant, payments received, and the
record of which expiry warnings were sent (so each threshold warns once per billing period)."""

from __future__ import annotations

from django.db import models

from billing.models.bank import MONEY


class Plan(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    period_days = models.PositiveSmallIntegerField(default=30)

    def __str__(self) -> str:
        return f"{self.name} ({self.price} {self.currency} / {self.period_days} days)"


class Subscription(models.Model):
    class Status(models.TextChoices):
        TRIAL = "trial"
        ACTIVE = "active"
        PAST_DUE = "past_due"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    LIVE = (Status.TRIAL, Status.ACTIVE, Status.PAST_DUE)

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    expires_on = models.DateField(help_text="Renewal or expiry date")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant}: {self.plan.code} ({self.status}, until {self.expires_on})"

    def as_event(self) -> dict:
        return {
            "id": self.pk,
            "tenant_id": self.tenant_id,
            "plan": self.plan.code,
            "plan_name": self.plan.name,
            "price": str(self.plan.price),
            "currency": self.plan.currency,
            "status": self.status,
            "expires_on": self.expires_on.isoformat(),
        }


class TenantPayment(models.Model):
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="tenant_payment_positive")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} from {self.tenant}"


class ExpiryWarning(models.Model):
    """`subscription:expiring` was sent for this threshold of this billing period (expires_on)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="expiry_warnings")
    threshold_days = models.PositiveSmallIntegerField()
    expires_on = models.DateField()
    days_left = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "expires_on", "threshold_days"], name="one_warning_per_threshold"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id}: {self.threshold_days}-day warning for {self.expires_on}"
