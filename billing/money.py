"""Parsing money from requests: Decimal only (never float), positive, two decimal places at most."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

MAX_AMOUNT = Decimal("1000000000")
CENT = Decimal("0.01")


# Plain ASCII decimals only: Decimal() alone also takes "1_000", Arabic-Indic and other Unicode
# digits, exponents ("1e2"), "NaN" and "Infinity".
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
SHAPE = 'amount must be a decimal string such as "12.50"'


def parse_amount(raw: object) -> Decimal:
    """A positive amount from a JSON string or number; ValueError with a readable message otherwise."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(SHAPE)
    if isinstance(raw, float):
        # A JSON float goes through repr() so 0.1 stays 0.1 and not 0.1000000000000000055...;
        # exponent forms (1e-05) are refused below like any other non-plain decimal
        raw = repr(raw)
    text = str(raw).strip(" ")
    if not PLAIN_DECIMAL.fullmatch(text):
        raise ValueError(SHAPE)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(SHAPE) from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError("amount must be greater than zero")
    if amount >= MAX_AMOUNT:
        raise ValueError("amount is too large")
    if amount != amount.quantize(CENT):
        raise ValueError("amount must have at most two decimal places")
    return amount.quantize(CENT)
