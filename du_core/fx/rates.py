"""Looking up exchange rates: direct, inverse, or across a common currency (EUR, as the ECB publishes).

A rate older than `fx_max_age_hours` is stale: conversions that move money refuse it, while
valuations (a balance's total in the base currency, withdrawal limits) may say how old it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from du_core.errors import InvalidState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

PIVOT = "EUR"


@dataclass(frozen=True)
class Rate:
    """1 `base` = `rate` `quote`, as known at `as_of` (the older leg's time for a cross rate)."""

    base: str
    quote: str
    rate: Decimal
    as_of: datetime
    via: str | None = None
    source: str | None = None  # "admin" or "ecb"; None for a cross rate


def _newest(session: Session, base: str, quote: str) -> Rate | None:
    from sqlalchemy import text

    row = session.execute(
        text("SELECT base, rate, as_of, source FROM fx_rates"
             " WHERE (base = :b AND quote = :q) OR (base = :q AND quote = :b)"
             " ORDER BY as_of DESC, created_at DESC LIMIT 1"),
        {"b": base, "q": quote},
    ).first()
    if row is None:
        return None
    value = row.rate if row.base == base else Decimal(1) / row.rate
    return Rate(base, quote, value, row.as_of, source=row.source)


def latest(session: Session, base: str, quote: str) -> Rate | None:
    """The newest rate from `base` to `quote`, or None when none is known."""
    if base == quote:
        return Rate(base, quote, Decimal(1), datetime.now(timezone.utc))
    direct = _newest(session, base, quote)
    if direct is not None or PIVOT in (base, quote):
        return direct
    first, second = _newest(session, base, PIVOT), _newest(session, PIVOT, quote)
    if first is None or second is None:
        return None
    return Rate(base, quote, first.rate * second.rate, min(first.as_of, second.as_of), via=PIVOT)


def fresh(session: Session, base: str, quote: str) -> Rate:
    """The newest rate, refusing a missing or stale one.

    Raises:
        InvalidState: no rate, or older than the fx_max_age_hours setting.
    """
    found = latest(session, base, quote)
    if found is None:
        raise InvalidState(f"no exchange rate from {base} to {quote}", details={"from": base, "to": quote})
    if is_stale(found, max_age(session)):
        raise InvalidState(
            f"the {base}/{quote} rate is stale (from {found.as_of:%Y-%m-%d %H:%M} UTC)",
            details={"from": base, "to": quote, "as_of": found.as_of.isoformat()},
        )
    return found


def value_in(session: Session, amount: Decimal, asset: str, target: str) -> Decimal | None:
    """`amount` of `asset` valued in `target` at the newest rate, or None when no rate is known."""
    found = latest(session, asset, target)
    return None if found is None else amount * found.rate


def max_age(session: Session) -> timedelta:
    """How old a rate may be before it is stale (the fx_max_age_hours setting)."""
    from du_core.admin import settings

    return timedelta(hours=settings.get(session, "fx_max_age_hours"))


def is_stale(rate: Rate, limit: timedelta, *, at: datetime | None = None) -> bool:
    """True when `rate` is older than `limit` at `at` (now by default)."""
    return (at or datetime.now(timezone.utc)) - rate.as_of > limit


def stored(session: Session) -> list[Rate]:
    """The newest stored rate of every (base, quote) pair, as stored (no inverse, no cross rate)."""
    from sqlalchemy import text

    rows = session.execute(text(
        "SELECT DISTINCT ON (base, quote) base, quote, rate, as_of, source FROM fx_rates"
        " ORDER BY base, quote, as_of DESC, created_at DESC"))
    return [Rate(r.base, r.quote, r.rate, r.as_of, source=r.source) for r in rows]
