"""Administering the books: verify them, release expired holds, add assets.

Money moves through du_core.ledger.book, called by the operations that move it (deposits,
withdrawals, exchange, trading); this module is the admin's window onto the result. Verifying
is a pure read on a snapshot of its own; turning a problem into an error is the caller's
choice (`ensure_balanced`), as it is for the audit trail.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from du_core.actor import Actor
from du_core.audit.trail import record
from du_core.errors import Duplicate, LedgerDrift
from du_core.ledger import book
from du_core.ledger.models import Asset
from du_core.ledger.schemas import (
    AddAsset, AssetView, DriftView, ExpiredHolds, ExpireHolds, LedgerVerification, OrphanedHoldView,
    UnbalancedEntryView,
)
from du_core.operations import operation
from du_core.users.models import User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@operation("admin.ledger_verify")
def ledger_verify(session: Session, actor: Actor, _: None = None) -> LedgerVerification:
    """Recompute every cached balance, entry and held balance from the postings and holds.

    Runs on a connection of its own in one REPEATABLE READ, read-only snapshot, so that money
    moving meanwhile is seen either wholly or not at all (the caller's transaction has already
    read, too late to change its isolation).
    """
    from sqlalchemy.orm import Session as OrmSession

    engine = session.get_bind().engine
    with engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn:
        with conn.begin(), OrmSession(bind=conn) as snapshot:
            as_of = snapshot.scalar(text("SELECT now()"))
            found = book.verify(snapshot)
            owners = {d.owner_id for d in found.drift} | {o[0] for o in found.orphaned_holds}
            emails = dict(snapshot.execute(select(User.id, User.email).where(User.id.in_(owners))).all())
            places = dict(snapshot.execute(select(Asset.code, Asset.precision)).all())

    def shown(value: Decimal, asset: str) -> Decimal:
        return _as_asset(value, places.get(asset))

    return LedgerVerification(
        ok=found.ok, as_of=as_of, accounts=found.accounts, postings=found.postings,
        drift=[DriftView(account_id=d.account_id, owner_id=d.owner_id, owner_email=emails.get(d.owner_id),
                         asset=d.asset, purpose=d.purpose,
                         cached=None if d.cached is None else shown(d.cached, d.asset),
                         from_postings=shown(d.from_postings, d.asset)) for d in found.drift],
        unbalanced_entries=[UnbalancedEntryView(entry_id=e, asset=a, total=shown(t, a))
                            for e, a, t in found.unbalanced_entries],
        orphaned_holds=[OrphanedHoldView(owner_id=o, owner_email=emails.get(o), asset=a, held=shown(h, a),
                                         pending_holds=shown(p, a)) for o, a, h, p in found.orphaned_holds],
    )


def _as_asset(value: Decimal, places: int | None) -> Decimal:
    """`value` with the asset's decimal places when that loses nothing (a tampered row may have more)."""
    if places is None:
        return value
    with localcontext() as ctx:
        ctx.prec = 60  # NUMERIC(38,18) fits; the default 28 digits would not
        short = value.quantize(Decimal(1).scaleb(-places))
    return short if short == value else value


def ensure_balanced(report: LedgerVerification) -> None:
    """Raise unless the verification found the books in order.

    Raises:
        LedgerDrift: naming the first problem; details carry every one.
    """
    if report.ok:
        return
    problems: list[str] = []
    for d in report.drift:
        whose = d.owner_email or (str(d.owner_id) if d.owner_id else "the platform")
        problems.append(f"account {d.account_id} ({whose}, {d.asset} {d.purpose}) caches {d.cached} "
                        f"but its postings sum to {d.from_postings}")
    for e in report.unbalanced_entries:
        problems.append(f"journal entry {e.entry_id} does not balance: its {e.asset} postings sum to {e.total}")
    for o in report.orphaned_holds:
        whose = o.owner_email or str(o.owner_id)
        problems.append(f"{whose} has {o.held} {o.asset} held but pending holds of {o.pending_holds}")
    more = len(problems) - 1
    raise LedgerDrift(
        f"the books do not verify: {problems[0]}" + (f"; {more} more problem(s)" if more else ""),
        details=report.model_dump(mode="json", exclude={"ok"}),
    )


@operation("admin.ledger_expire_holds")
def ledger_expire_holds(session: Session, actor: Actor, req: ExpireHolds | None = None) -> ExpiredHolds:
    """Release pending holds whose expiry has passed back to their owners' available balances.

    Safe to run from several processes at once: each hold is released by exactly one of them.
    """
    req = req or ExpireHolds()
    at = book.now()
    released: list[uuid.UUID] = book.expire_holds(session, at=at, limit=req.limit)
    more_due = bool(session.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM holds WHERE status = 'pending' AND expires_at <= :at)"), {"at": at}))
    record(session, actor, "admin.ledger_expire_holds", target_type="holds",
           details={"released": len(released), "hold_ids": released, "more_due": more_due})
    return ExpiredHolds(released=len(released), hold_ids=released, more_due=more_due)


@operation("admin.assets_add")
def assets_add(session: Session, actor: Actor, req: AddAsset) -> AssetView:
    """Add a currency or coin that users can then deposit, hold and trade.

    Raises:
        Duplicate: an asset with this code exists (active or not).
    """
    table = Asset.__table__
    row = session.execute(
        insert(table).values(code=req.code, name=req.name, kind=req.kind, precision=req.precision)
        .on_conflict_do_nothing(index_elements=[table.c.code]).returning(*table.c)
    ).first()
    if row is None:
        existing = session.get(Asset, req.code)
        state = "" if existing is None or existing.active else " (inactive)"
        raise Duplicate(f"asset {req.code} already exists{state}", details={"code": req.code})
    record(session, actor, "admin.assets_add", target_type="asset", target_id=req.code,
           new={"name": req.name, "kind": req.kind, "precision": req.precision})
    return AssetView.model_validate(row)
