"""Moving a player's money (seed 000): payments and liability offsets.

Each function runs in one transaction that locks the bank account row first (then the
liability), so two runs for one player are serialised; an idempotency key under a unique
constraint makes a rerun (RQ retry after a crash, a double submit) find its first run's row and
move nothing. Callers may wrap these in a larger transaction (the job adds its notification)."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction

from billing.models import BankAccount, Liability, LiabilityOffset, Payment
from billing.outcomes import Outcome, refused

log = logging.getLogger(__name__)


def payment_key(user_id: int, client_key: str) -> str:
    return f"payment:{user_id}:{client_key}"


def offset_key(user_id: int, client_key: str) -> str:
    return f"offset:{user_id}:{client_key}"


def _payment_outcome(payment: Payment, *, created: bool) -> Outcome:
    if payment.status == Payment.Status.REFUSED:
        return Outcome(ok=False, message=payment.refusal, error="insufficient_funds", created=False)
    return Outcome(
        ok=True,
        message=f"Paid {payment.amount} {payment.account.currency} to {payment.payee}",
        payload={
            "payment_id": payment.pk,
            "amount": str(payment.amount),
            "currency": payment.account.currency,
            "payee": payment.payee,
            "balance": str(payment.balance_after),
            "replayed": not created,
        },
        created=created,
    )


def pay(*, user_id: int, amount: Decimal, payee: str, description: str = "", idempotency_key: str) -> Outcome:
    """Pay `amount` out of the user's account, once per idempotency key; refuse an overdraft."""
    with transaction.atomic():
        account = BankAccount.objects.select_for_update().filter(user_id=user_id).first()
        if account is None:
            return refused("no_account", "You have no bank account")
        existing = Payment.objects.select_related("account").filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.account_id != account.pk or existing.amount != amount or existing.payee != payee:
                return refused("idempotency_conflict", "This idempotency key was used for a different payment")
            log.info("payment rerun found its first run key=%s payment=%s", idempotency_key, existing.pk)
            return _payment_outcome(existing, created=False)
        if account.balance < amount:
            payment = Payment.objects.create(
                account=account,
                amount=amount,
                payee=payee,
                description=description,
                status=Payment.Status.REFUSED,
                refusal=f"Insufficient funds: balance {account.balance} {account.currency}, payment {amount}",
                balance_after=account.balance,
                idempotency_key=idempotency_key,
            )
            log.info("payment refused (insufficient funds) account=%s payment=%s", account.pk, payment.pk)
            return _payment_outcome(payment, created=False)
        account.balance -= amount
        account.save(update_fields=["balance", "updated_at"])
        payment = Payment.objects.create(
            account=account,
            amount=amount,
            payee=payee,
            description=description,
            status=Payment.Status.COMPLETED,
            balance_after=account.balance,
            idempotency_key=idempotency_key,
        )
    log.info("payment completed account=%s payment=%s", account.pk, payment.pk)
    return _payment_outcome(payment, created=True)


def _offset_outcome(offset: LiabilityOffset, *, created: bool) -> Outcome:
    if offset.status == LiabilityOffset.Status.REFUSED:
        return Outcome(ok=False, message=offset.refusal, error=offset.refusal_code or "refused", created=False)
    return Outcome(
        ok=True,
        message=f"Offset {offset.amount} against {offset.liability.name}",
        payload={
            "offset_id": offset.pk,
            "liability_id": offset.liability_id,
            "liability": offset.liability.name,
            "amount": str(offset.amount),
            "outstanding": str(offset.outstanding_after),
            "balance": str(offset.balance_after),
            "replayed": not created,
        },
        created=created,
    )


def recorded_payment(idempotency_key: str) -> Outcome | None:
    """The outcome a payment's first run recorded (None: no run got as far as committing)."""
    payment = Payment.objects.select_related("account").filter(idempotency_key=idempotency_key).first()
    return _payment_outcome(payment, created=False) if payment is not None else None


def recorded_offset(idempotency_key: str) -> Outcome | None:
    """The outcome an offset's first run recorded (None: no run got as far as committing)."""
    offset = LiabilityOffset.objects.select_related("liability").filter(idempotency_key=idempotency_key).first()
    return _offset_outcome(offset, created=False) if offset is not None else None


def offset_liability(*, user_id: int, liability_id: int, amount: Decimal | None, idempotency_key: str) -> Outcome:
    """Pay `amount` (default: all that is outstanding) from the account against one liability."""
    with transaction.atomic():
        account = BankAccount.objects.select_for_update().filter(user_id=user_id).first()
        if account is None:
            return refused("no_account", "You have no bank account")
        liability = (
            Liability.objects.select_for_update().filter(pk=liability_id, balance_sheet__user_id=user_id).first()
        )
        if liability is None:
            return refused("not_found", "No such liability on your balance sheet")
        existing = LiabilityOffset.objects.select_related("liability").filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.liability_id != liability.pk or (amount is not None and existing.amount != amount):
                return refused("idempotency_conflict", "This idempotency key was used for a different offset")
            return _offset_outcome(existing, created=False)
        amount = liability.outstanding if amount is None else amount
        if amount <= 0:  # nothing to record (an offset's amount is positive); a rerun says the same
            return refused("already_settled", f"{liability.name} has nothing outstanding")
        if amount > liability.outstanding:
            return _refuse_offset(
                account,
                liability,
                amount,
                idempotency_key,
                "exceeds_outstanding",
                f"{liability.name} has only {liability.outstanding} outstanding, not {amount}",
            )
        if account.balance < amount:
            return _refuse_offset(
                account,
                liability,
                amount,
                idempotency_key,
                "insufficient_funds",
                f"Insufficient funds: balance {account.balance} {account.currency}, offset {amount}",
            )
        account.balance -= amount
        account.save(update_fields=["balance", "updated_at"])
        liability.outstanding -= amount
        liability.save(update_fields=["outstanding", "updated_at"])
        offset = LiabilityOffset.objects.create(
            liability=liability,
            account=account,
            amount=amount,
            status=LiabilityOffset.Status.COMPLETED,
            outstanding_after=liability.outstanding,
            balance_after=account.balance,
            idempotency_key=idempotency_key,
        )
    log.info("liability offset account=%s liability=%s offset=%s", account.pk, liability.pk, offset.pk)
    return _offset_outcome(offset, created=True)


def _refuse_offset(
    account: BankAccount, liability: Liability, amount: Decimal, idempotency_key: str, code: str, message: str
) -> Outcome:
    """Record a refused offset under its idempotency key (like a refused payment), so a rerun
    with that key gives the same refusal instead of moving money later."""
    offset = LiabilityOffset.objects.create(
        liability=liability,
        account=account,
        amount=amount,
        status=LiabilityOffset.Status.REFUSED,
        refusal=message[:200],
        refusal_code=code,
        outstanding_after=liability.outstanding,
        balance_after=account.balance,
        idempotency_key=idempotency_key,
    )
    log.info("liability offset refused (%s) account=%s offset=%s", code, account.pk, offset.pk)
    return _offset_outcome(offset, created=False)
