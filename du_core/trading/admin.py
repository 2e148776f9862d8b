"""Running the exchange: listing instruments, changing their rules, halting and resuming them.

Every change is audited with its old and new values. A halt takes the instrument's matching lock,
so no order is mid-match when it lands, and it is announced on the live feed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

from du_core.actor import Actor
from du_core.audit.trail import record
from du_core.db import fast
from du_core.errors import Duplicate, InvalidInput
from du_core.money import parse_amount
from du_core.operations import operation
from du_core.trading import exchange
from du_core.trading.info import instrument_view
from du_core.trading.schemas import AddInstrument, InstrumentView, UpdateInstrument

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

RULES = ("tick_size", "lot_size", "min_quantity", "max_quantity", "min_notional", "price_band")


def _rule(name: str, text: str) -> Decimal:
    value = parse_amount(text, 18, field=name)
    if name == "price_band" and value >= 1:
        raise InvalidInput("price_band is a fraction below 1, like 0.05 for 5 %", details={"field": name})
    return value


def _check(values: dict[str, Decimal]) -> None:
    if values["max_quantity"] < values["min_quantity"]:
        raise InvalidInput("max_quantity is below min_quantity", details={"field": "max_quantity"})
    if values["min_quantity"] % values["lot_size"]:
        raise InvalidInput("min_quantity must be a multiple of lot_size", details={"field": "min_quantity"})


@operation("admin.instruments_add")
def add_instrument(session: Session, actor: Actor, req: AddInstrument) -> InstrumentView:
    """List a new pair of two listed assets.

    Raises:
        InvalidInput: an unknown asset or an inconsistent rule.
        Duplicate: the pair exists.
    """
    from du_core.ledger import book

    base, _, quote = req.symbol.partition("-")
    book.asset(session, base)
    book.asset(session, quote)
    values = {name: _rule(name, getattr(req, name)) for name in RULES}
    _check(values)
    row = fast.execute(session, "INSERT INTO instruments (symbol, base, quote, tick_size, lot_size, min_quantity,"
                       " max_quantity, min_notional, price_band) VALUES (%(symbol)s, %(base)s, %(quote)s,"
                       " %(tick_size)s, %(lot_size)s, %(min_quantity)s, %(max_quantity)s, %(min_notional)s,"
                       " %(price_band)s) ON CONFLICT DO NOTHING RETURNING symbol",
                       {"symbol": req.symbol, "base": base, "quote": quote, **values}).fetchone()
    if row is None:
        raise Duplicate(f"{req.symbol} is already listed", details={"symbol": req.symbol})
    record(session, actor, "admin.instruments_add", target_type="instrument", target_id=req.symbol,
           new={k: str(v) for k, v in values.items()})
    return instrument_view(exchange.instrument(session, req.symbol, lock=False))


@operation("admin.instruments_update")
def update_instrument(session: Session, actor: Actor, req: UpdateInstrument) -> InstrumentView:
    """Halt or resume an instrument, or change its rules (resting orders keep their terms).

    Raises:
        NotFound: no such instrument.
        InvalidInput: nothing to change, or an inconsistent rule.
    """
    inst = exchange.instrument(session, req.symbol, lock=True)
    old = {"status": inst.status, "tick_size": inst.tick, "lot_size": inst.lot, "min_quantity": inst.min_quantity,
           "max_quantity": inst.max_quantity, "min_notional": inst.min_notional, "price_band": inst.band}
    changes: dict[str, object] = {n: _rule(n, getattr(req, n)) for n in RULES if getattr(req, n) is not None}
    if req.status is not None:
        changes["status"] = req.status
    changes = {k: v for k, v in changes.items() if v != old[k]}
    if not changes:
        raise InvalidInput("nothing to change", details={"symbol": req.symbol})
    _check({**old, **changes})  # type: ignore[arg-type]
    sets = ", ".join(f"{k} = %({k})s" for k in changes)
    fast.execute(session, f"UPDATE instruments SET {sets} WHERE symbol = %(symbol)s", {"symbol": req.symbol,
                                                                                      **changes})
    if "status" in changes:
        fast.execute(session, "SELECT pg_notify('du_market', %(p)s)", {"p": json.dumps(
            {"topic": "instrument", "symbol": req.symbol, "status": changes["status"]})})
    record(session, actor, "admin.instruments_update", target_type="instrument", target_id=req.symbol,
           old={k: str(old[k]) for k in changes}, new={k: str(v) for k, v in changes.items()})
    return instrument_view(exchange.instrument(session, req.symbol, lock=False))
