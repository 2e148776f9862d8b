"""Exchange rates and currency exchange: admins set or import rates, users see them and convert.

An exchange is one journal entry through the platform's FX desk: the user's FROM money goes to
the desk, the desk pays out the TO money at the rate, and the spread goes to the platform's fee
account. Amounts are rounded down to the TO asset's places at each step, so the user never
receives more than the exact value and the entry balances to the last digit:

    gross    = down(amount x rate)           what the rate alone would pay
    received = down(gross x (1 - fx_spread)) what the user gets
    fee      = gross - received              what the platform keeps
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from sqlalchemy import select

from du_core.actor import Actor
from du_core.admin import settings
from du_core.audit.trail import record
from du_core.errors import Duplicate, InvalidInput, KycRequired
from du_core.fx import ecb, rates
from du_core.fx.schemas import (
    Exchange, ExchangeView, ImportedRate, ImportRates, ImportView, RateQuery, RateRow, RateView, SetRate,
)
from du_core.idempotency import once
from du_core.ledger import book
from du_core.ledger.book import Leg
from du_core.ledger.models import Asset
from du_core.money import MAX_AMOUNT, parse_amount, plain, quantize_down
from du_core.operations import operation

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

RATE_PLACES = 18  # the scale of fx_rates.rate
EXCHANGE_KYC_LEVEL = 1
CLOCK_SKEW = timedelta(minutes=5)  # an --as-of this far ahead is still "now" on another machine's clock
# Enough digits that amount x rate is exact before it is rounded down: 38 digits of an amount
# times the 28 significant digits of a derived rate.
_WORKING_PRECISION = 80


def _now() -> datetime:
    return datetime.now(timezone.utc)


def tidy(value: Decimal) -> Decimal:
    """A rate without the trailing zeros of its column (1.053700000000000000 -> 1.0537)."""
    return value.normalize()


def age_text(delta: timedelta) -> str:
    """How old, for people: 3d 04h, 2h 05m."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return f"{days}d {hours:02d}h" if days else f"{hours}h {minutes:02d}m"


def _row(rate: rates.Rate, limit: timedelta, now: datetime) -> RateRow:
    return RateRow(base=rate.base, quote=rate.quote, rate=tidy(rate.rate), as_of=rate.as_of,
                   age=age_text(now - rate.as_of), stale=rates.is_stale(rate, limit, at=now),
                   source=rate.source, via=rate.via)


@operation("admin.fx_set")
def set_rate(session: Session, actor: Actor, req: SetRate) -> RateView:
    """Record the rate 1 BASE = RATE QUOTE from `as_of` (now by default), source "admin".

    Raises:
        InvalidInput: an unknown currency, a rate that is not a plain decimal above zero with at
            most 18 places, or a time in the future.
        Duplicate: this pair already has an admin rate at exactly that time.
    """
    from sqlalchemy.dialects.postgresql import insert

    from du_core.financial.models import FxRate

    base, quote = book.asset(session, req.base).code, book.asset(session, req.quote).code
    value = parse_amount(req.rate, RATE_PLACES, field="rate")
    now = _now()
    as_of = req.as_of or now
    if as_of > now + CLOCK_SKEW:
        raise InvalidInput("as_of is in the future: a rate is set for a moment that has come",
                           details={"field": "as_of"})
    previous = session.execute(
        select(FxRate.rate, FxRate.as_of, FxRate.source).where(FxRate.base == base, FxRate.quote == quote)
        .order_by(FxRate.as_of.desc(), FxRate.created_at.desc()).limit(1)).first()
    rate_id = session.scalar(
        insert(FxRate).values(id=uuid.uuid4(), base=base, quote=quote, rate=value, source="admin", as_of=as_of,
                              created_by=actor.user_id)
        .on_conflict_do_nothing(index_elements=["base", "quote", "as_of", "source"]).returning(FxRate.id))
    if rate_id is None:
        raise Duplicate(f"{base}/{quote} already has an admin rate at {as_of.isoformat()}",
                        details={"base": base, "quote": quote, "as_of": as_of.isoformat()})
    record(session, actor, "admin.fx_set", target_type="fx_rate", target_id=rate_id,
           old={"rate": previous.rate, "as_of": previous.as_of, "source": previous.source} if previous else None,
           new={"base": base, "quote": quote, "rate": value, "as_of": as_of, "source": "admin"})
    return RateView(id=rate_id, base=base, quote=quote, rate=tidy(value), source="admin", as_of=as_of,
                    created_by=actor.user_id)


@operation("admin.fx_import")
def import_rates(session: Session, actor: Actor, req: ImportRates) -> ImportView:
    """Fetch the ECB's daily reference rates and store EUR -> X for every listed asset X.

    A file imported before stores nothing again (one rate per pair, day and source).

    Raises:
        Unavailable: the source cannot be reached or does not send its rates file (nothing is stored).
    """
    from sqlalchemy.dialects.postgresql import insert

    from du_core.financial.models import FxRate

    daily = ecb.client(req.url).fetch()
    listed = set(session.scalars(select(Asset.code).where(Asset.active)))
    wanted: dict[str, Decimal] = {}
    if ecb.BASE in listed:
        wanted = {code: value for code, value in daily.rates.items() if code in listed and code != ecb.BASE}
    new: set[str] = set()
    if wanted:
        new = set(session.scalars(
            insert(FxRate).values([
                {"id": uuid.uuid4(), "base": ecb.BASE, "quote": code, "rate": value, "source": "ecb",
                 "as_of": daily.as_of, "created_by": actor.user_id}
                for code, value in sorted(wanted.items())
            ]).on_conflict_do_nothing(index_elements=["base", "quote", "as_of", "source"]).returning(FxRate.quote)))
    view = ImportView(
        source="ecb", url=req.url, day=daily.day, as_of=daily.as_of, quoted=len(daily.rates), new=len(new),
        skipped=sorted(set(daily.rates) - set(wanted)),
        rates=[ImportedRate(quote=code, rate=tidy(value), new=code in new) for code, value in sorted(wanted.items())],
    )
    record(session, actor, "admin.fx_import", target_type="fx_rates",
           new={code: value for code, value in sorted(wanted.items()) if code in new} or None,
           details={"url": req.url, "day": daily.day, "as_of": daily.as_of, "new": len(new),
                    "already_stored": len(wanted) - len(new)})
    return view


@operation("financial.rates")
def list_rates(session: Session, actor: Actor, req: RateQuery) -> list[RateRow]:
    """The rates in force, with their age and whether they are stale.

    Without a base: the newest stored rate of each pair. With one: that currency against every
    other listed asset, directly, inverted or across EUR, as an exchange would price it.

    Raises:
        InvalidInput: an unknown base currency.
    """
    limit, now = rates.max_age(session), _now()
    if req.base is None:
        found = rates.stored(session)
    else:
        base = book.asset(session, req.base).code
        quotes = session.scalars(select(Asset.code).where(Asset.active, Asset.code != base).order_by(Asset.code))
        found = [r for r in (rates.latest(session, base, quote) for quote in quotes) if r is not None]
    return [_row(r, limit, now) for r in found]


@dataclass(frozen=True)
class _Priced:
    source: Asset
    target: Asset
    amount: Decimal
    rate: rates.Rate
    spread: Decimal
    gross: Decimal
    received: Decimal

    @property
    def fee(self) -> Decimal:
        return self.gross - self.received

    def view(self, entry_id: uuid.UUID | None) -> ExchangeView:
        return ExchangeView(
            executed=entry_id is not None, entry_id=entry_id, from_currency=self.source.code,
            from_amount=self.amount, to_currency=self.target.code, to_amount=self.received,
            gross_amount=self.gross, fee=self.fee, rate=tidy(self.rate.rate), spread=self.spread,
            rate_as_of=self.rate.as_of, via=self.rate.via,
        )


def _price(session: Session, req: Exchange) -> _Priced:
    """What `req` would pay at the current rate and spread.

    Raises:
        InvalidInput: unknown or equal currencies, a bad amount, or one too small or too large.
        InvalidState: no rate, or a stale one.
    """
    from du_core.money import exact

    source, target = book.asset(session, req.from_currency), book.asset(session, req.to_currency)
    if source.code == target.code:
        raise InvalidInput("from and to are the same currency", details={"field": "to_currency"})
    amount = exact(parse_amount(req.amount, source.precision), source.precision)
    rate = rates.fresh(session, source.code, target.code)
    spread = settings.get(session, "fx_spread")
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        gross = quantize_down(amount * rate.rate, target.precision)
        received = quantize_down(gross * (1 - spread), target.precision)
    if received <= 0:
        smallest = plain(Decimal(1).scaleb(-target.precision))
        raise InvalidInput(f"amount too small: after the spread it buys less than {smallest} {target.code}",
                           details={"field": "amount"})
    if gross > MAX_AMOUNT:
        raise InvalidInput(f"amount too large: it would pay more {target.code} than an account can hold",
                           details={"field": "amount"})
    return _Priced(source, target, amount, rate, spread, gross, received)


@operation("financial.exchange")
def exchange(session: Session, actor: Actor, req: Exchange) -> ExchangeView:
    """Convert the caller's available money from one currency to another at the current rate.

    With `quote_only`, price it and move nothing. A repeat with the same idempotency key returns
    the first result.

    Raises:
        KycRequired: the caller's KYC level is below 1.
        InvalidInput: see `_price`.
        InvalidState: no rate or a stale one.
        InsufficientFunds: less is available than the amount.
        Duplicate: the idempotency key was used for another request.
    """
    if actor.kyc_level < EXCHANGE_KYC_LEVEL:
        raise KycRequired(f"currency exchange needs KYC level {EXCHANGE_KYC_LEVEL}; yours is {actor.kyc_level}",
                          details={"required": EXCHANGE_KYC_LEVEL, "kyc_level": actor.kyc_level})
    if req.quote_only:
        return _price(session, req).view(None)
    assert actor.user_id is not None
    return once(session, user_id=actor.user_id, key=req.idempotency_key, operation="financial.exchange",
                request=req, result_type=ExchangeView, work=lambda: _execute(session, actor, req))


def _execute(session: Session, actor: Actor, req: Exchange) -> ExchangeView:
    p = _price(session, req)
    user, src, dst = actor.user_id, p.source.code, p.target.code
    legs = [
        Leg(user, src, "available", -p.amount),
        Leg(None, src, "fx", p.amount),
        Leg(None, dst, "fx", -p.gross),
        Leg(user, dst, "available", p.received),
    ]
    if p.fee:
        legs.append(Leg(None, dst, "fees", p.fee))
    description = f"{plain(p.amount)} {src} for {plain(p.received)} {dst} at {plain(tidy(p.rate.rate))}"
    entry_id = book.post(session, kind="exchange", legs=legs, created_by=user, description=description[:200])
    record(session, actor, "financial.exchange", target_type="journal_entry", target_id=entry_id,
           new={"from_currency": src, "from_amount": p.amount, "to_currency": dst, "to_amount": p.received,
                "gross_amount": p.gross, "fee": p.fee, "rate": p.rate.rate, "rate_as_of": p.rate.as_of,
                "via": p.rate.via, "spread": p.spread},
           details={"idempotency_key": req.idempotency_key} if req.idempotency_key else None)
    return p.view(entry_id)
