"""Billing's models: the players' bank (seed 000), in-game jobs (seed 000), tenant subscriptions (seed 004)."""

from billing.models.bank import BalanceSheet, BankAccount, Liability, LiabilityOffset, Payment
from billing.models.careers import Employment, JobApplication, JobOpening
from billing.models.subscriptions import ExpiryWarning, Plan, Subscription, TenantPayment

__all__ = [
    "BalanceSheet",
    "BankAccount",
    "Employment",
    "ExpiryWarning",
    "JobApplication",
    "JobOpening",
    "Liability",
    "LiabilityOffset",
    "Payment",
    "Plan",
    "Subscription",
    "TenantPayment",
]
