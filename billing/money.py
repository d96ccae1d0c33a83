"""Parsing money from requests: Decimal only (never float), positive, two decimal places at most."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MAX_AMOUNT = Decimal("1000000000")
CENT = Decimal("0.01")


def parse_amount(raw: object) -> Decimal:
    """A positive amount from a JSON string or number; ValueError with a readable message otherwise."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError('amount must be a decimal string such as "12.50"')
    try:
        # A JSON float goes through str() so 0.1 stays 0.1 and not 0.1000000000000000055...
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError('amount must be a decimal string such as "12.50"') from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError("amount must be greater than zero")
    if amount >= MAX_AMOUNT:
        raise ValueError("amount is too large")
    if amount != amount.quantize(CENT):
        raise ValueError("amount must have at most two decimal places")
    return amount.quantize(CENT)
