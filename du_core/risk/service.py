"""The risk operations: metrics, exposure, scoring, mitigation and monitoring of a user's holdings.

Each operation reads the user's current holdings through `portfolio.valuation` and works out its
figures in the modules beside this one: `history` (holdings -> daily values -> `metrics`),
`exposure`, `limits` (limits, alerts, mitigation) and `scoring`. Only monitoring writes: a row of
`risk_alerts` when a limit's status changes. Every caller sees their own figures; the platform-wide
views (`exposure --all`, `monitoring --all`) are for admins and another user's score is for
compliance officers and admins, checked here since the permission table says only "self".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from du_core.actor import Actor, Role
from du_core.audit.trail import record
from du_core.db import fast
from du_core.errors import NotFound, PermissionDenied
from du_core.operations import operation
from du_core.risk import exposure as exposures
from du_core.risk import history, limits
from du_core.risk import metrics as rm
from du_core.risk import scoring as scores
from du_core.risk.schemas import (
    ExposureQuery, ExposureView, MetricsQuery, MetricsView, MitigationView, MonitoringQuery, MonitoringView,
    PlatformExposureView, PlatformMonitoringView, ScoreView, ScoringQuery, UserBreach,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SCORERS = frozenset({Role.compliance, Role.admin})


def _admin_only(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"your role ({actor.role.value}) may not see {what}: admins only",
                               details={"option": "--all"})


@operation("risk.metrics")
def metrics(session: Session, actor: Actor, req: MetricsQuery | None = None) -> MetricsView:
    """VaR and expected shortfall (1 day, 1 week), volatility, Sharpe, Sortino, drawdown and beta of
    the caller's current holdings over their price history in the window asked.

    A figure that cannot be computed (no holdings, too little history) is null with its reason.

    Raises:
        InvalidInput: the start day is after the end day.
        NotFound: an unknown benchmark symbol.
    """
    req = req or MetricsQuery()
    span = history.window(lookback=req.lookback, since=req.since, until=req.until)
    snap = history.snapshot(session, actor.user_id, span, benchmark=req.benchmark,  # type: ignore[arg-type]
                            risk_free_rate=req.risk_free_rate, periods_per_year=req.periods_per_year)
    return MetricsView(base=snap.base, window=span, benchmark=req.benchmark, holdings=snap.used,
                       left_out=snap.left_out, notes=snap.notes, **rm.to_json(snap.figures))


@operation("risk.exposure")
def exposure(session: Session, actor: Actor, req: ExposureQuery | None = None) -> ExposureView | PlatformExposureView:
    """Gross and net exposure by asset and currency: the caller's, or with `all` the platform's.

    Raises:
        PermissionDenied: `all` asked by anyone but an admin.
    """
    req = req or ExposureQuery()
    if req.all:
        _admin_only(actor, "the platform's exposure")
        return exposures.of_platform(session, top=req.top)
    return exposures.of_user(session, actor.user_id)  # type: ignore[arg-type]


@operation("risk.scoring")
def scoring(session: Session, actor: Actor, req: ScoringQuery | None = None) -> ScoreView:
    """The 0-100 risk score (higher = riskier) of the caller, or of `user_id` for compliance and admins.

    Raises:
        PermissionDenied: another user's score asked by anyone but compliance or an admin.
        NotFound: no such user.
    """
    req = req or ScoringQuery()
    target = actor.user_id
    if req.user_id is not None and req.user_id != actor.user_id:
        if actor.role not in SCORERS:
            raise PermissionDenied(f"your role ({actor.role.value}) may not see another user's risk score",
                                   details={"option": "--user"})
        if fast.execute(session, "SELECT 1 FROM users WHERE id = %(u)s", {"u": req.user_id}).fetchone() is None:
            raise NotFound("no such user", details={"user_id": str(req.user_id)})
        target = req.user_id
        record(session, actor, "risk.scoring", target_type="user", target_id=target)
    ev = limits.evaluate(session, target)  # type: ignore[arg-type]
    return scores.score(session, target, ev)  # type: ignore[arg-type]


@operation("risk.mitigation")
def mitigation(session: Session, actor: Actor, _: None = None) -> MitigationView:
    """Each of the caller's limits in warn or breach, with the orders, cancels or sales that fix it."""
    ev = limits.evaluate(session, actor.user_id)  # type: ignore[arg-type]
    remedies, notes = limits.remedies(session, ev)
    if not remedies:
        notes.append("every limit is below its warn level: nothing to do")
    return MitigationView(user_id=actor.user_id, status=ev.status, remedies=remedies, notes=notes)


@operation("risk.monitoring")
def monitoring(session: Session, actor: Actor, req: MonitoringQuery | None = None
               ) -> MonitoringView | PlatformMonitoringView:
    """The caller's limits (platform settings tightened by their risk tolerance), each with its
    status, and the alert history; with `all` (admins), every user with holdings in breach.

    Records an alert for each limit whose status changed since the last one.

    Raises:
        PermissionDenied: `all` asked by anyone but an admin.
    """
    req = req or MonitoringQuery()
    if req.all:
        _admin_only(actor, "every user's risk limits")
        return _platform(session, actor)
    ev = limits.evaluate(session, actor.user_id)  # type: ignore[arg-type]
    written = limits.record_alerts(session, ev)
    if written:
        record(session, actor, "risk.monitoring", target_type="user", target_id=actor.user_id,
               new={x.name: x.status for x in ev.limits})
    return MonitoringView(user_id=actor.user_id, status=ev.status, risk_tolerance=ev.tolerance,
                          tolerance_factor=float(ev.factor), limits=ev.limits, new_alerts=written,
                          alerts=limits.alerts(session, actor.user_id, req.history))  # type: ignore[arg-type]


_HOLDERS = """
WITH holders AS (
    SELECT DISTINCT owner_id AS id FROM ledger_accounts WHERE owner_id IS NOT NULL AND balance <> 0
    UNION SELECT user_id FROM external_holdings
)
SELECT h.id, u.email, count(*) OVER () FROM holders h JOIN users u ON u.id = h.id
ORDER BY EXISTS (SELECT 1 FROM risk_alerts a WHERE a.user_id = h.id AND a.status = 'breach') DESC, h.id
LIMIT %(n)s
"""


def _platform(session: Session, actor: Actor) -> PlatformMonitoringView:
    """Evaluate the users with holdings (those with a past breach first, at most the setting's number)."""
    from du_core.admin import settings as platform

    bound = platform.get(session, "risk_monitor_max_users")
    rows = fast.execute(session, _HOLDERS, {"n": bound}).fetchall()
    candidates = rows[0][2] if rows else 0
    in_breach: list[UserBreach] = []
    written = 0
    for user_id, email, _ in rows:
        ev = limits.evaluate(session, user_id)
        written += limits.record_alerts(session, ev)
        breached = [x.name for x in ev.limits if x.status == "breach"]
        if breached:
            in_breach.append(UserBreach(user_id=user_id, email=email, breached=breached, limits=ev.limits))
    if written:
        record(session, actor, "risk.monitoring", target_type="platform", target_id="all",
               new={"alerts": written, "evaluated": len(rows)})
    return PlatformMonitoringView(candidates=candidates, evaluated=len(rows), truncated=candidates > len(rows),
                                  new_alerts=written, in_breach=in_breach)

