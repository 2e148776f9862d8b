"""Money as text: the one strict parser every amount typed by a user goes through.

An amount is plain ASCII decimal digits with an optional fraction of at most the asset's
decimal places, greater than zero and within the ledger's column (NUMERIC(38,18): 20 integer
digits). Anything else, NaN, Infinity, exponents, signs, underscores, thousands separators,
spaces or full-width digits, is refused before anything is written.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal

from du_core.errors import InvalidInput

INTEGER_DIGITS = 20
SCALE = 18
MAX_AMOUNT = Decimal(10) ** INTEGER_DIGITS - Decimal(10) ** -SCALE
_PLAIN = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?", re.ASCII)


def parse_amount(text: str, precision: int, *, field: str = "amount") -> Decimal:
    """Parse a positive amount with at most `precision` decimal places.

    Raises:
        InvalidInput: the text is not such an amount (the message says why, without echoing it).
    """
    if not isinstance(text, str):
        text = str(text)
    if not _PLAIN.fullmatch(text):
        raise InvalidInput(
            f"{field} must be plain digits with an optional decimal point, like 1250.50 "
            "(no sign, exponent, spaces, separators or words)", details={"field": field})
    integer, _, fraction = text.partition(".")
    if len(fraction) > precision:
        raise InvalidInput(f"{field} has more than {precision} decimal places", details={"field": field,
                                                                                        "precision": precision})
    if len(integer) > INTEGER_DIGITS:
        raise InvalidInput(f"{field} is too large", details={"field": field})
    value = Decimal(text)
    if value <= 0:
        raise InvalidInput(f"{field} must be greater than zero", details={"field": field})
    return value


def quantize_down(value: Decimal, precision: int) -> Decimal:
    """Round towards zero to `precision` places: what a client receives never exceeds the exact value."""
    return value.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_DOWN)


def exact(value: Decimal, precision: int) -> Decimal:
    """A stored amount with exactly the asset's decimal places (JSON then shows "100.00", not 100.000...)."""
    return value.quantize(Decimal(1).scaleb(-precision))


def plain(value: Decimal) -> str:
    """Positional notation exactly as stored: "0.00000001", never "1E-8"."""
    return format(value, "f")
