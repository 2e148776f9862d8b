"""A user's risk score: 0 to 100, higher = riskier, the sum of four weighted components.

    score = 30 x volatility + 25 x concentration + 20 x drawdown + 25 x account

each component a sub-score from 0 (no risk) to 1 (the most), its contribution weight x sub-score
rounded to 2 places, and the score the sum of the contributions:

    volatility      min(annual volatility / 0.80, 1): the current holdings' daily values over the
                    last 365 days (sqrt(252), as `du risk metrics`); 80 % a year or more counts in full
    concentration   Herfindahl index sum(w_i^2), w_i = a holding's share of the portfolio's value,
                    over every holding but cash in the base currency: 1 for one asset and nothing
                    else, 0.25 for half in one asset and half in cash, 0 for cash only
    drawdown        min(max drawdown / 0.50, 1) over the same 365 days
    account         min(1, KYC + status + lock + breaches): KYC level 0: 0.4, 1: 0.2, 2: 0.1, 3: 0;
                    suspended or closed: 0.4; login locked now: 0.2; each risk limit in breach
                    now (`du risk monitoring`): 0.2

A user who holds nothing has no market risk: volatility, concentration and drawdown are 0, with
that reason. A user who holds something whose volatility or drawdown cannot be computed (too little
history) gets half of that component (0.5), with the reason: unknown is neither safe nor the worst.
Bands: below 25 low, below 50 moderate, below 75 high, else severe.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from du_core.db import fast
from du_core.errors import NotFound
from du_core.risk.schemas import ScoreComponent, ScoreView

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from du_core.risk.limits import Evaluation

WEIGHTS = {"volatility": 30.0, "concentration": 25.0, "drawdown": 20.0, "account": 25.0}
VOLATILITY_FULL = 0.80
DRAWDOWN_FULL = 0.50
UNKNOWN = 0.5
KYC_POINTS = {0: 0.4, 1: 0.2, 2: 0.1, 3: 0.0}
INACTIVE_POINTS = 0.4
LOCKED_POINTS = 0.2
BREACH_POINTS = 0.2
BANDS = ((25.0, "low"), (50.0, "moderate"), (75.0, "high"))
FORMULA = ("score = sum of contributions; contribution = weight x sub_score (rounded to 2 places); weights: "
           "volatility 30, concentration 25, drawdown 20, account 25; sub-scores: volatility "
           f"min(annual_volatility / {VOLATILITY_FULL}, 1), concentration sum(w_i^2) over holdings but "
           f"base-currency cash, drawdown min(max_drawdown / {DRAWDOWN_FULL}, 1), account min(1, kyc "
           f"(level 0: 0.4, 1: 0.2, 2: 0.1, 3: 0) + {INACTIVE_POINTS} if suspended or closed + {LOCKED_POINTS} if "
           f"login locked + {BREACH_POINTS} per limit in breach); unknown volatility or drawdown: {UNKNOWN}; "
           "nothing held: 0; higher = riskier")


def _component(name: str, measure: float | None, sub: float, rule: str, reason: str | None) -> ScoreComponent:
    sub = min(1.0, max(0.0, sub))
    return ScoreComponent(name=name, weight=WEIGHTS[name], measure=measure, sub_score=sub,
                          contribution=round(WEIGHTS[name] * sub, 2), rule=rule, reason=reason)


def _market(name: str, measure: float | None, full: float, held: bool, reason: str | None, rule: str
            ) -> ScoreComponent:
    if not held:
        return _component(name, None, 0.0, rule, "nothing is held: no market risk")
    if measure is None:
        return _component(name, None, UNKNOWN, rule, f"unknown ({reason}): counted at {UNKNOWN}")
    return _component(name, measure, measure / full, rule, None)


def herfindahl(ev: Evaluation) -> float | None:
    """sum(w_i^2) over the valued holdings but base-currency cash; None when nothing is valued."""
    val = ev.snap.valuation
    if val.total <= 0:
        return None
    by_symbol: dict[str, Decimal] = {}
    for h in val.holdings:
        if h.value is not None and not (h.cash and h.currency is None):
            by_symbol[h.symbol] = by_symbol.get(h.symbol, Decimal(0)) + h.value
    return float(sum(((v / val.total) ** 2 for v in by_symbol.values()), Decimal(0)))


def score(session: Session, user_id: uuid.UUID, ev: Evaluation) -> ScoreView:
    """The score of `user_id` from the evaluation of their limits (see the module docstring).

    Raises:
        NotFound: no such user.
    """
    row = fast.execute(session, "SELECT kyc_level, status FROM users WHERE id = %(u)s", {"u": user_id}).fetchone()
    if row is None:
        raise NotFound("no such user", details={"user_id": str(user_id)})
    kyc, status = row
    locked = fast.execute(session, "SELECT 1 FROM login_throttle WHERE key = %(k)s AND locked_until > now()",
                          {"k": f"user:{user_id}"}).fetchone() is not None
    breaches = [x.name for x in ev.limits if x.status == "breach"]

    figures = ev.snap.figures
    held = bool(ev.snap.valuation.holdings)
    hhi = herfindahl(ev)
    account = KYC_POINTS.get(kyc, 0.0) + (INACTIVE_POINTS if status != "active" else 0.0) + (
        LOCKED_POINTS if locked else 0.0) + BREACH_POINTS * len(breaches)
    facts = [f"KYC level {kyc}", f"status {status}"] + (["login locked"] if locked else []) + (
        [f"in breach: {', '.join(breaches)}"] if breaches else [])
    components = [
        _market("volatility", figures.annual_volatility, VOLATILITY_FULL, held,
                figures.reasons.get("annual_volatility"), f"min(annual_volatility / {VOLATILITY_FULL}, 1)"),
        _component("concentration", hhi, hhi if hhi is not None else (UNKNOWN if held else 0.0),
                   "sum(w_i^2) over holdings but base-currency cash",
                   None if hhi is not None else ("nothing is held: no market risk" if not held
                                                  else f"nothing held could be valued: counted at {UNKNOWN}")),
        _market("drawdown", figures.max_drawdown, DRAWDOWN_FULL, held, figures.reasons.get("max_drawdown"),
                f"min(max_drawdown / {DRAWDOWN_FULL}, 1)"),
        _component("account", account, account, "min(1, kyc + inactive + locked + 0.2 x breaches)",
                    "; ".join(facts)),
    ]
    total = round(sum(c.contribution for c in components), 2)
    band = next((name for bound, name in BANDS if total < bound), "severe")
    return ScoreView(user_id=user_id, score=total, band=band,  # type: ignore[arg-type]
                     higher_is_riskier=True, formula=FORMULA, components=components, window=ev.snap.window,
                     as_of=datetime.now(timezone.utc))
