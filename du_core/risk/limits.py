"""Risk limits: each user's value against each limit, the alert history, and the way back.

Limits come from the platform settings; a client's risk tolerance (`du client preferences`) only
tightens them, by a factor: low x0.5, medium x0.75, high or unset x1. The figures rest on the
user's current holdings and their last 365 days (`history.snapshot`):

    concentration    largest share of the portfolio's value (`valuation.total`) taken by one
                     holding, cash in the base currency excepted           risk_max_concentration
    value_at_risk    1-day 95 % historical VaR, a fraction of the value   risk_var_limit_fraction
    max_drawdown     largest drawdown of the current holdings' value       risk_max_drawdown
    max_open_orders  open orders (stop orders waiting for their trigger included)   max_open_orders

Status: breach when value > limit; warn when value >= risk_warn_ratio x limit; ok below; unknown
when the value cannot be computed though something is held (too little history: see the reason).

Alerts: monitoring writes a `risk_alerts` row when a limit's status differs from that user's last
row for the limit (no row counts as ok), under a per-user advisory lock so that two monitors
never record one change twice. Unknown writes nothing.

Mitigation, for each limit in warn (target: under the warn level) or breach (target: the limit):
    concentration    sell x of the largest holding, x = (V - target x T) / price, rounded up to
                     the instrument's lot (an external holding: to the places its quantity is
                     recorded with, at most 8): V its value, T the portfolio's (unchanged: the
                     proceeds stay in it as cash); platform holdings are sold first
    value_at_risk,   sell the same share 1 - k of every holding but base-currency cash, the
    max_drawdown     proceeds kept as base cash: k is the largest in [0, 1] (bisection) for which
                     the figure of C + (1 - k) R_T + k R_t is within the target, R_t the value of
                     those holdings over the window and C the cash
    max_open_orders  cancel the oldest open orders, as many as bring the count within the target
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any

from du_core.admin import settings as platform
from du_core.db import fast
from du_core.risk import history
from du_core.risk import metrics as rm
from du_core.risk.models import ALERT_STATES, RiskAlert
from du_core.risk.schemas import Action, AlertView, LimitStatus, Remedy, Status

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from du_core.portfolio.valuation import Holding

TOLERANCE_FACTORS: dict[str | None, Decimal] = {"low": Decimal("0.5"), "medium": Decimal("0.75"),
                                                "high": Decimal("1"), None: Decimal("1")}
EVALUATION_DAYS = 365
VAR_LEVEL, VAR_HORIZON = 0.95, "1d"
BISECTION_STEPS = 40
MAX_CANCELS_LISTED = 20
EXTERNAL_PLACES = 8  # an outside sale is rounded up to the places of the quantity held, at most these
SEVERITY = {"ok": 0, "unknown": 0, "warn": 1, "breach": 2}
LIMITS = {
    "concentration": ("risk_max_concentration", True,
                      "largest share of the portfolio's value in one holding (base-currency cash excepted)"),
    "value_at_risk": ("risk_var_limit_fraction", True, "1-day 95 % historical value at risk, as a share of "
                                                        "the portfolio's value (last 365 days)"),
    "max_drawdown": ("risk_max_drawdown", True, "largest drawdown of the current holdings over the last 365 days"),
    "max_open_orders": ("max_open_orders", False, "open orders"),
}


@dataclass
class Evaluation:
    """One user's limits now, with what they were computed from (for scoring and mitigation)."""

    user_id: uuid.UUID
    snap: history.Snapshot
    tolerance: str | None
    factor: Decimal
    warn_ratio: Decimal
    limits: list[LimitStatus]
    open_orders: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)  # (id, symbol, side), oldest first

    @property
    def status(self) -> Status:
        return worst(x.status for x in self.limits)

    def limit(self, name: str) -> LimitStatus:
        return next(x for x in self.limits if x.name == name)


def worst(statuses: Any) -> Status:
    found = list(statuses)
    for status in ("breach", "warn", "ok"):
        if status in found:
            return status  # type: ignore[return-value]
    return "unknown" if found else "ok"


def tolerance(session: Session, user_id: uuid.UUID) -> str | None:
    row = fast.execute(session, "SELECT risk_tolerance FROM client_preferences WHERE user_id = %(u)s",
                       {"u": user_id}).fetchone()
    return row[0] if row else None


def status_of(value: float | None, limit: float, warn_at: float) -> Status:
    if value is None:
        return "unknown"
    if value > limit:
        return "breach"
    if limit > 0 and value >= warn_at:
        return "warn"
    return "ok"


def _message(name: str, status: Status, value: float | None, limit: float, subject: str | None,
             reason: str | None) -> str:
    what = name.replace("_", " ") + (f" ({subject})" if subject else "")
    if status == "unknown":
        return f"{what}: {reason}"
    if value is None:
        return f"{what}: {reason or 'nothing to measure'}"
    shown = f"{value:g}" if name == "max_open_orders" else f"{value:.4f}"
    bound = f"{limit:g}" if name == "max_open_orders" else f"{limit:.4f}"
    if status == "breach":
        return f"{what} {shown} is above the limit {bound}"
    if status == "warn":
        return f"{what} {shown} is at {value / limit:.0%} of the limit {bound}"
    return f"{what} {shown} is within the limit {bound}"


def concentration(snap: history.Snapshot) -> tuple[float | None, str | None, str | None]:
    """(largest share, its symbol, reason) over the valued holdings, base-currency cash excepted."""
    val = snap.valuation
    if val.total <= 0:
        return None, None, "nothing valued is held"
    by_symbol: dict[str, Decimal] = {}
    for h in val.holdings:
        if h.value is not None and not (h.cash and h.currency is None):
            by_symbol[h.symbol] = by_symbol.get(h.symbol, Decimal(0)) + h.value
    if not by_symbol:
        return 0.0, None, None
    symbol = max(by_symbol, key=lambda s: (by_symbol[s], s))
    return float(by_symbol[symbol] / val.total), symbol, None


def evaluate(session: Session, user_id: uuid.UUID, *, snap: history.Snapshot | None = None) -> Evaluation:
    """The user's value against every limit (nothing is written)."""
    settings = platform.current(session)
    risk_tolerance = tolerance(session, user_id)
    factor = TOLERANCE_FACTORS.get(risk_tolerance, Decimal(1))
    warn_ratio = settings["risk_warn_ratio"]
    if snap is None:
        snap = history.snapshot(session, user_id, history.window(lookback=EVALUATION_DAYS))
    figures = snap.figures
    orders = [(r[0], r[1], r[2]) for r in fast.execute(
        session, "SELECT id, symbol, side FROM orders WHERE user_id = %(u)s"
                 " AND status IN ('pending_trigger', 'open', 'partially_filled') ORDER BY seq", {"u": user_id})]

    held = bool(snap.valuation.holdings)
    tail = figures.tail_risk(VAR_LEVEL, VAR_HORIZON)
    share, subject, share_reason = concentration(snap)
    measured: dict[str, tuple[float | None, str | None, str | None]] = {
        "concentration": (share, subject, share_reason),
        "value_at_risk": (tail.historical_var, None, tail.reasons.get("historical_var")),
        "max_drawdown": (figures.max_drawdown, None, figures.reasons.get("max_drawdown")),
        "max_open_orders": (float(len(orders)), None, None),
    }
    out = []
    for name, (key, tightened, description) in LIMITS.items():
        value, about, reason = measured[name]
        base_limit = Decimal(settings[key])
        limit = float(base_limit * factor) if tightened else float(base_limit)
        warn_at = limit * float(warn_ratio)
        status = status_of(value, limit, warn_at)
        if status == "unknown" and not held:
            status, reason = "ok", "nothing is held"
        out.append(LimitStatus(name=name, description=description, value=value, limit=limit,
                               platform_limit=float(base_limit), warn_at=warn_at,
                               ratio=None if value is None or limit == 0 else value / limit, status=status,
                               subject=about, message=_message(name, status, value, limit, about, reason)))
    return Evaluation(user_id=user_id, snap=snap, tolerance=risk_tolerance, factor=factor, warn_ratio=warn_ratio,
                      limits=out, open_orders=orders)


# alerts

_LAST = """
SELECT DISTINCT ON (limit_name) limit_name, status FROM risk_alerts WHERE user_id = %(u)s
ORDER BY limit_name, created_at DESC, id
"""


def record_alerts(session: Session, ev: Evaluation) -> int:
    """Write a risk_alerts row for each limit whose status changed since its last row; return how many."""
    fast.execute(session, "SELECT pg_advisory_xact_lock(hashtextextended(%(k)s, 0))", {"k": f"risk:{ev.user_id}"})
    last = dict(fast.execute(session, _LAST, {"u": ev.user_id}).fetchall())
    written = 0
    for x in ev.limits:
        if x.status not in ALERT_STATES or x.status == last.get(x.name, "ok"):
            continue
        session.add(RiskAlert(user_id=ev.user_id, limit_name=x.name, status=x.status,
                              value=None if x.value is None else Decimal(repr(x.value)),
                              limit_value=Decimal(repr(x.limit)), message=x.message))
        written += 1
    if written:
        session.flush()
    return written


def alerts(session: Session, user_id: uuid.UUID, limit: int) -> list[AlertView]:
    """The user's alert history, newest first."""
    rows = fast.execute(session, "SELECT id, limit_name, status, value, limit_value, message, created_at"
                                 " FROM risk_alerts WHERE user_id = %(u)s ORDER BY created_at DESC, id"
                                 " LIMIT %(n)s", {"u": user_id, "n": limit}).fetchall()
    return [AlertView(id=i, limit=name, status=status, value=None if value is None else float(value),
                      limit_value=float(bound), message=message, created_at=at)
            for i, name, status, value, bound, message, at in rows]


# mitigation


def _up(quantity: Decimal, step: Decimal) -> Decimal:
    return ((quantity / step).to_integral_value(rounding=ROUND_UP) * step).normalize()


def _plain(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f")


class _Seller:
    """Turns "sell this much of a symbol" into actions on the user's holdings of it, platform first."""

    def __init__(self, session: Session, ev: Evaluation) -> None:
        from du_core.portfolio import valuation as pv

        self.session, self.ev = session, ev
        self.base = ev.snap.valuation.base
        self.instruments = pv.instrument_prices(session)

    def holdings(self, symbol: str) -> list[Holding]:
        found = [h for h in self.ev.snap.valuation.holdings if h.symbol == symbol and h.value is not None]
        return sorted(found, key=lambda h: h.source != "platform")

    def sell(self, symbol: str, needed: Decimal) -> tuple[list[Action], Decimal]:
        """Actions selling at least `needed` of `symbol` (at most what is held), and the quantity sold."""
        from du_core.trading import exchange

        actions: list[Action] = []
        sold = Decimal(0)
        for h in self.holdings(symbol):
            rest = needed - sold
            if rest <= 0:
                break
            inst = self.instruments.get(h.price_symbol or "")
            if h.source == "platform" and h.cash and h.currency is not None:
                q = min(h.quantity, _up(rest, Decimal(1).scaleb(-2)))
                actions.append(Action(kind="exchange", symbol=symbol, quantity=q, order_id=None,
                                      description=f"exchange {_plain(q)} {symbol} for {self.base}",
                                      command=f"du financial exchange --from {symbol} --to {self.base} "
                                              f"--amount {_plain(q)}"))
            elif h.source == "platform" and inst is not None and inst[0] == symbol:
                lot = exchange.instrument(self.session, h.price_symbol, lock=False).lot  # type: ignore[arg-type]
                q = min(h.quantity, _up(rest, lot))
                actions.append(Action(kind="sell", symbol=symbol, quantity=q, order_id=None,
                                      description=f"sell {_plain(q)} {symbol} on {h.price_symbol}",
                                      command=f"du trading order {h.price_symbol} --side sell --type market "
                                              f"--quantity {_plain(q)}"))
            elif h.source == "platform":
                q = min(h.quantity, _up(rest, Decimal(1).scaleb(-EXTERNAL_PLACES)))
                actions.append(Action(kind="note", symbol=symbol, quantity=q, order_id=None,
                                      description=f"reduce {symbol} by {_plain(q)}: no instrument of this "
                                                  "exchange sells it", command=None))
            else:
                # in the units the user records it in (whole shares stay whole), at most 8 places
                places = min(EXTERNAL_PLACES, max(0, -int(h.quantity.normalize().as_tuple().exponent)))
                q = min(h.quantity, _up(rest, Decimal(1).scaleb(-places)))
                left = h.quantity - q
                cost = _plain(h.average_cost or Decimal(0))
                actions.append(Action(kind="sell_outside", symbol=symbol, quantity=q, order_id=None,
                                      description=f"sell {_plain(q)} {symbol} where you hold it, then record what "
                                                  "is left",
                                      command=f"du portfolio holdings-update --symbol {symbol} --quantity "
                                              f"{_plain(left)} --average-cost {cost}"))
            sold += q
        return actions, sold


def _scaled_figure(ev: Evaluation, name: str) -> Callable[[float], float | None]:
    """figure(k): the limit's figure if every holding but base cash were scaled to k of itself now."""
    import numpy as np
    import pandas as pd

    snap = ev.snap
    risky = [s for s in snap.quantities if s not in snap.cash_symbols()]
    closes = snap.closes.loc[snap.values.index, risky].ffill()
    r = closes.to_numpy() @ np.array([float(snap.quantities[s]) for s in risky], dtype="float64")
    total = snap.values.to_numpy()
    cash = total - r

    def figure(k: float) -> float | None:
        series = pd.Series(cash + (1 - k) * r[-1] + k * r, index=snap.values.index)
        m = rm.metrics(series, levels=(VAR_LEVEL,))
        return m.tail_risk(VAR_LEVEL, VAR_HORIZON).historical_var if name == "value_at_risk" else m.max_drawdown

    return figure


def _bisect(figure: Callable[[float], float | None], target: float) -> float | None:
    """The largest k in [0, 1] with figure(k) <= target, or None when even k = 0 is not."""
    low = figure(0.0)
    if low is None or low > target:
        return None
    lo, hi = 0.0, 1.0
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        value = figure(mid)
        if value is not None and value <= target:
            lo = mid
        else:
            hi = mid
    return lo


def remedies(session: Session, ev: Evaluation) -> tuple[list[Remedy], list[str]]:
    """A remedy for each limit in warn or breach, and notes on what could not be suggested."""
    seller = _Seller(session, ev)
    out: list[Remedy] = []
    notes: list[str] = []
    for x in ev.limits:
        if x.status not in ("warn", "breach"):
            continue
        target = x.limit if x.status == "breach" else x.warn_at
        actions: list[Action] = []
        expected: float | None = None
        if x.name == "concentration" and x.subject is not None:
            val = ev.snap.valuation
            hs = seller.holdings(x.subject)
            value = sum((h.value for h in hs if h.value is not None), Decimal(0))
            price = hs[0].price if hs else None
            if price:
                # strictly below the warn level (warn starts at it); at most the limit for a breach
                aim = Decimal(repr(target)) * (Decimal(1) - Decimal("1e-9") if x.status == "warn" else Decimal(1))
                needed = (value - aim * val.total) / price
                actions, sold = seller.sell(x.subject, needed)
                expected = float((value - sold * price) / val.total)
        elif x.name in ("value_at_risk", "max_drawdown") and x.value is not None:
            figure = _scaled_figure(ev, x.name)
            aim = target * (1 - 1e-9) if x.status == "warn" else target
            k = _bisect(figure, aim)
            if k is None:
                notes.append(f"{x.name}: no reduction of your holdings brings it within {target:.4f}")
                continue
            for symbol in ev.snap.quantities:
                if symbol in ev.snap.cash_symbols():
                    continue
                needed = ev.snap.quantities[symbol] * Decimal(repr(1 - k))
                more, _ = seller.sell(symbol, needed)
                actions += more
            expected = figure(k)
            if actions:
                actions.append(Action(kind="note", symbol=None, quantity=None, order_id=None, command=None,
                                      description=f"these sales cut every holding but {ev.snap.base} cash by "
                                                  f"{1 - k:.2%}; the proceeds stay as {ev.snap.base} cash"))
        elif x.name == "max_open_orders":
            allowed = int(target) if x.status == "breach" else math.ceil(target) - 1
            surplus = max(0, len(ev.open_orders) - max(allowed, 0))
            for order_id, symbol, side in ev.open_orders[:min(surplus, MAX_CANCELS_LISTED)]:
                actions.append(Action(kind="cancel", symbol=symbol, quantity=None, order_id=order_id,
                                      description=f"cancel your {side} order on {symbol} (one of your oldest)",
                                      command=f"du trading cancel {order_id}"))
            if surplus > MAX_CANCELS_LISTED:
                actions.append(Action(kind="note", symbol=None, quantity=None, order_id=None, command=None,
                                      description=f"and {surplus - MAX_CANCELS_LISTED} more of your oldest open "
                                                  "orders (du trading orders --status open)"))
            expected = float(len(ev.open_orders) - surplus)
        if not actions:
            notes.append(f"{x.name}: no action could be computed ({x.message})")
        out.append(Remedy(limit=x.name, status=x.status, value=x.value, limit_value=x.limit, target=target,
                          expected_value=expected, actions=actions))
    return out, notes
