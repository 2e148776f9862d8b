"""The platform dashboard: what an admin checks first, in one read of a few aggregate statements.

Every figure is summed by PostgreSQL, never by walking rows here. The window is the last 24 hours
by the database's clock, the one that stamps users, trades and journal entries, so a trade made a
moment ago is counted however the caller's clock is set. Trading fees are read from the platform's
fee accounts (what the ledger says was earned), not from the trades' own fee columns.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from du_core.actor import Actor
from du_core.admin import settings
from du_core.admin.schemas import DashboardView, InstrumentState, QuoteActivity
from du_core.db import fast
from du_core.money import exact
from du_core.operations import operation
from du_core.trading.exchange import places

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

WINDOW = timedelta(hours=24)

# One scan of users answers all three breakdowns (grouping() tells the rows apart).
_USERS = """
SELECT grouping(status), grouping(role), status, role, count(*), count(*) FILTER (WHERE created_at >= %(since)s)
FROM users GROUP BY GROUPING SETS ((status), (role), ())
"""
# A range scan of ix_trades_created_at (migration 0007).
_TRADES = """
SELECT i.quote, count(*), sum(t.quote_quantity)
FROM trades t JOIN instruments i ON i.symbol = t.symbol
WHERE t.created_at >= %(since)s GROUP BY i.quote
"""
# Trade entries are found through the journal's created_at index, their fee legs through postings' entry index.
_FEES = """
SELECT p.asset, sum(p.amount)
FROM journal_entries j JOIN postings p ON p.entry_id = j.id
JOIN ledger_accounts a ON a.id = p.account_id AND a.owner_id IS NULL AND a.purpose = 'fees'
WHERE j.kind = 'trade' AND j.created_at >= %(since)s GROUP BY p.asset
"""
# Live orders are the rows of the partial index ix_orders_user_open (same predicate).
_INSTRUMENTS = """
SELECT i.symbol, i.quote, i.status, i.last_price, i.tick_size, coalesce(o.live, 0)
FROM instruments i LEFT JOIN (SELECT symbol, count(*) AS live FROM orders
           WHERE status IN ('pending_trigger', 'open', 'partially_filled') GROUP BY symbol) o ON o.symbol = i.symbol
ORDER BY i.symbol
"""


def _users(session: Session, since: Any) -> tuple[int, int, dict[str, int], dict[str, int]]:
    """All accounts, those created since `since`, and the accounts by status and by role."""
    total = new = 0
    by_status: dict[str, int] = {}
    by_role: dict[str, int] = {}
    for no_status, no_role, status, role, count, fresh in fast.execute(session, _USERS, {"since": since}):
        if no_status and no_role:
            total, new = count, fresh
        elif no_role:
            by_status[status] = count
        else:
            by_role[role] = count
    return total, new, dict(sorted(by_status.items())), dict(sorted(by_role.items()))


@operation("admin.dashboard")
def dashboard(session: Session, actor: Actor, _: None = None) -> DashboardView:
    """Sum up the platform: accounts, the last 24 hours of trading by quote currency, live orders,
    every instrument's status and last price, and whether trading and maintenance are on."""
    now = fast.execute(session, "SELECT now()").fetchone()[0]
    since = now - WINDOW
    params = {"since": since}
    instruments = fast.execute(session, _INSTRUMENTS).fetchall()
    quote_places = dict(fast.execute(session, "SELECT code, precision FROM assets").fetchall())
    trades = {q: (n, volume) for q, n, volume in fast.execute(session, _TRADES, params)}
    fees = dict(fast.execute(session, _FEES, params).fetchall())
    quotes = sorted({row[1] for row in instruments} | set(trades) | set(fees))
    zero = Decimal(0)
    activity = [
        QuoteActivity(quote=q, trades=trades.get(q, (0, zero))[0],
                      volume=exact(trades.get(q, (0, zero))[1], quote_places[q]),
                      fees=exact(fees.get(q, zero), quote_places[q]))
        for q in quotes
    ]
    states = [
        InstrumentState(symbol=symbol, status=status, open_orders=live,
                        last_price=None if last is None else exact(last, places(tick)))
        for symbol, _quote, status, last, tick, live in instruments
    ]
    total, new, by_status, by_role = _users(session, since)
    flags = settings.current(session)
    return DashboardView(
        as_of=now, since=since, trading_enabled=flags["trading_enabled"], maintenance_mode=flags["maintenance_mode"],
        users_total=total, users_new_24h=new, users_by_status=by_status, users_by_role=by_role,
        trading_24h=activity, open_orders=sum(s.open_orders for s in states), instruments=states)
