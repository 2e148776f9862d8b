"""The fee schedule: maker and taker rates by a user's traded volume over the last 30 days.

The base rates are the settings `maker_fee_rate` and `taker_fee_rate`; `fee_tiers` lowers them
from a volume threshold (in USD). An order keeps the rates it was placed with, so the money held
for it always covers its fees, whatever an admin changes while it rests.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from du_core.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

VOLUME_DAYS = 30
_VOLUME_TTL = 60.0  # seconds a user's 30-day volume is reused within one process


@dataclass(frozen=True)
class Tier:
    min_volume_usd: Decimal
    maker: Decimal
    taker: Decimal


def parse_tiers(text: str) -> list[Tier]:
    """Parse `VOLUME:MAKER/TAKER,...` (empty: no tiers).

    Raises:
        InvalidInput: a malformed tier, a rate outside 0..0.1, or volumes not increasing.
    """
    tiers: list[Tier] = []
    for part in filter(None, (p.strip() for p in text.replace(" ", "").split(","))):
        try:
            volume, rates = part.split(":")
            maker, taker = rates.split("/")
            tier = Tier(Decimal(volume), Decimal(maker), Decimal(taker))
        except (ValueError, InvalidOperation):
            raise InvalidInput("fee_tiers takes VOLUME:MAKER/TAKER,... like 100000:0.0008/0.0016",
                               details={"key": "fee_tiers"}) from None
        if not all(x.is_finite() for x in (tier.min_volume_usd, tier.maker, tier.taker)) \
                or tier.min_volume_usd <= 0 or not (0 <= tier.maker <= Decimal("0.1")) \
                or not (0 <= tier.taker <= Decimal("0.1")):
            raise InvalidInput("fee tiers need a positive volume and rates between 0 and 0.1",
                               details={"key": "fee_tiers"})
        if tiers and tier.min_volume_usd <= tiers[-1].min_volume_usd:
            raise InvalidInput("fee tiers must be listed by increasing volume", details={"key": "fee_tiers"})
        tiers.append(tier)
    return tiers


def schedule(settings: dict[str, Any]) -> list[Tier]:
    """Every tier, the base rates first (from a volume of 0)."""
    return [Tier(Decimal(0), settings["maker_fee_rate"], settings["taker_fee_rate"]),
            *parse_tiers(settings["fee_tiers"])]


_VOLUMES: dict[tuple[Any, uuid.UUID], tuple[float, Decimal]] = {}

_VOLUME_SQL = """
SELECT i.quote, sum(t.quote_quantity) FROM (
    SELECT symbol, quote_quantity FROM trades WHERE buyer_id = %(u)s AND created_at > now() - interval '30 days'
    UNION ALL
    SELECT symbol, quote_quantity FROM trades WHERE seller_id = %(u)s AND created_at > now() - interval '30 days'
) t JOIN instruments i ON i.symbol = t.symbol GROUP BY i.quote
"""


def volume_usd(session: Session, user_id: uuid.UUID) -> Decimal:
    """The user's traded volume of the last 30 days in USD (quotes without a USD rate count as 0)."""
    key = (session.get_bind(), user_id)
    cached = _VOLUMES.get(key)
    if cached is not None and time.monotonic() - cached[0] < _VOLUME_TTL:
        return cached[1]
    from du_core.db import fast
    from du_core.fx import rates

    total = Decimal(0)
    for quote, amount in fast.execute(session, _VOLUME_SQL, {"u": user_id}).fetchall():
        if quote == "USD":
            total += amount
        else:
            found = rates.latest(session, quote, "USD")
            if found is not None:
                total += amount * found.rate
    _VOLUMES[key] = (time.monotonic(), total)
    return total


def rates_for(session: Session, user_id: uuid.UUID, settings: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    """(maker rate, taker rate, 30-day USD volume) of the user's tier."""
    tiers = schedule(settings)
    volume = volume_usd(session, user_id) if len(tiers) > 1 else Decimal(0)
    tier = tiers[0]
    for candidate in tiers[1:]:
        if volume >= candidate.min_volume_usd:
            tier = candidate
    return tier.maker, tier.taker, volume
