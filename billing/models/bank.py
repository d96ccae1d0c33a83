"""A player's money (seed 000): a bank account, the payments out of it, and a balance sheet of
liabilities that the player offsets from the account.

Every row that moves money carries an idempotency key under a unique constraint: a job that runs
twice (a retry after a crash, a double submit) finds the row of its first run and moves nothing."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

MONEY = {"max_digits": 14, "decimal_places": 2}


class BankAccount(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bank_account")
    balance = models.DecimalField(**MONEY, default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default="USD")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(balance__gte=0), name="bank_balance_not_negative")]

    def __str__(self) -> str:
        return f"{self.user} {self.balance} {self.currency}"


class Payment(models.Model):
    """One payment request's outcome. `completed` moved the money; `refused` moved nothing (and a
    rerun with the same key gets the same answer)."""

    class Status(models.TextChoices):
        COMPLETED = "completed"
        REFUSED = "refused"

    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**MONEY)
    payee = models.CharField(max_length=100)
    description = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    refusal = models.CharField(max_length=200, blank=True)
    balance_after = models.DecimalField(**MONEY)
    idempotency_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} to {self.payee} ({self.status})"


class BalanceSheet(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="balance_sheet")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"balance sheet of {self.user}"


class Liability(models.Model):
    balance_sheet = models.ForeignKey(BalanceSheet, on_delete=models.CASCADE, related_name="liabilities")
    name = models.CharField(max_length=100)
    outstanding = models.DecimalField(**MONEY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "liabilities"
        constraints = [
            models.CheckConstraint(condition=models.Q(outstanding__gte=0), name="liability_not_negative"),
            models.UniqueConstraint(fields=["balance_sheet", "name"], name="liability_name_per_sheet"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.outstanding}"


class LiabilityOffset(models.Model):
    """Money paid from the bank account against a liability (or a refused attempt, which moved nothing)."""

    class Status(models.TextChoices):
        COMPLETED = "completed"
        REFUSED = "refused"

    liability = models.ForeignKey(Liability, on_delete=models.PROTECT, related_name="offsets")
    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="liability_offsets")
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=10, choices=Status.choices)
    refusal = models.CharField(max_length=200, blank=True)
    refusal_code = models.CharField(max_length=40, blank=True, help_text="Why it was refused (machine-readable)")
    outstanding_after = models.DecimalField(**MONEY)
    balance_after = models.DecimalField(**MONEY)
    idempotency_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="offset_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} against {self.liability_id} ({self.status})"
