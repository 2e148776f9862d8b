"""Positions: a user's net quantity in an instrument from their fills, at average cost.

Signed average-cost accounting: a fill in the direction of the position (or opening one) moves
the average cost to the weighted mean; a fill against it realises (price - average cost) on the
closed quantity (reversed for a short position) and leaves the average cost unchanged; a fill
that flips the position opens the rest at the fill's price. Fees are counted apart, so realised
P&L is the price effect alone and `net = realised - fees`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from du_core.db import fast

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from du_core.trading.exchange import Instrument

ZERO = Decimal(0)
COST_UNIT = Decimal(1).scaleb(-18)  # average cost keeps the column's 18 places


def step(quantity: Decimal, cost: Decimal, signed: Decimal, price: Decimal) -> tuple[Decimal, Decimal, Decimal | None]:
    """Apply one fill of `signed` quantity (buy > 0, sell < 0) at `price` to a position.

    Returns the new (quantity, average cost) and the P&L it realised (None when it closed nothing).
    """
    new = quantity + signed
    if quantity == 0 or (quantity > 0) == (signed > 0):
        average = (abs(quantity) * cost + abs(signed) * price) / abs(new)
        return new, average.quantize(COST_UNIT), None
    closed = min(abs(signed), abs(quantity))
    realised = closed * (price - cost) if quantity > 0 else closed * (cost - price)
    if new == 0:
        return new, ZERO, realised
    if (new > 0) != (quantity > 0):  # flipped: the rest opens at this price
        return new, price, realised
    return new, cost, realised


_READ = ("SELECT user_id, quantity, average_cost, realised_pnl, fees, volume FROM positions"
         " WHERE symbol = %(s)s AND user_id = ANY(%(users)s)")
_UPSERT = (
    "INSERT INTO positions (user_id, symbol, quantity, average_cost, realised_pnl, fees, volume, updated_at)"
    " SELECT u, %(s)s, q, c, r, f, v, now() FROM unnest(%(users)s::uuid[], %(q)s::numeric[], %(c)s::numeric[],"
    " %(r)s::numeric[], %(f)s::numeric[], %(v)s::numeric[]) AS t(u, q, c, r, f, v)"
    " ON CONFLICT (user_id, symbol) DO UPDATE SET quantity = excluded.quantity,"
    " average_cost = excluded.average_cost, realised_pnl = excluded.realised_pnl, fees = excluded.fees,"
    " volume = excluded.volume, updated_at = now()"
)


def apply(session: Session, inst: Instrument, fills: list[dict[str, Any]]) -> None:
    """Move the positions of both sides of each fill and note on the fill the P&L each side realised."""
    users = list({f["buyer_id"] for f in fills} | {f["seller_id"] for f in fills})
    state: dict[Any, list[Decimal]] = {u: [ZERO, ZERO, ZERO, ZERO, ZERO] for u in users}
    for user, *values in fast.execute(session, _READ, {"s": inst.symbol, "users": users}).fetchall():
        state[user] = list(values)
    unit = Decimal(1).scaleb(-inst.quote_places)
    for fill in fills:
        for user, signed, fee, key in ((fill["buyer_id"], fill["quantity"], fill["buyer_fee"], "buyer_pnl"),
                                       (fill["seller_id"], -fill["quantity"], fill["seller_fee"], "seller_pnl")):
            row = state[user]
            row[0], row[1], realised = step(row[0], row[1], signed, fill["price"])
            if realised is not None:
                realised = realised.quantize(unit)
                row[2] += realised
            row[3] += fee
            row[4] += fill["quote_quantity"]
            fill[key] = realised
    fast.execute(session, _UPSERT, {"s": inst.symbol, "users": users, "q": [state[u][0] for u in users],
                                    "c": [state[u][1] for u in users], "r": [state[u][2] for u in users],
                                    "f": [state[u][3] for u in users], "v": [state[u][4] for u in users]})
