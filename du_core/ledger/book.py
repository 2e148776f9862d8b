"""Posting to the books: journal entries, accounts, holds and the verification of it all.

This is the hot path of every money movement, so it speaks SQL through SQLAlchemy Core in few
round trips: resolve the accounts, lock the user accounts in a fixed order (id), check debits,
then insert the entry and all its postings in one statement. The database applies each posting
to its cached balance and refuses an entry that does not balance (migration 0002).

Sign convention: a positive posting adds to the account's balance. A deposit of 100 posts +100
to the user's available account and -100 to the platform's external account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, text, tuple_

from du_core.errors import InsufficientFunds, InvalidInput, InvalidState, NotFound
from du_core.ledger.models import Asset, Hold, LedgerAccount

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Leg:
    """One posting to be made: `amount` (signed) to the account (owner, asset, purpose)."""

    owner_id: uuid.UUID | None
    asset: str
    purpose: str
    amount: Decimal

    @property
    def key(self) -> tuple[uuid.UUID | None, str, str]:
        return (self.owner_id, self.asset, self.purpose)


def now() -> datetime:
    return datetime.now(timezone.utc)


def asset(session: Session, code: str) -> Asset:
    """The active asset `code` (case-insensitive), cached for the transaction.

    Raises:
        InvalidInput: unknown or inactive asset (listing the known ones).
    """
    cache: dict[str, Asset] = session.info.setdefault("assets", {})
    code = code.strip().upper()
    if code not in cache:
        found = session.get(Asset, code)
        if found is None or not found.active:
            known = session.scalars(select(Asset.code).where(Asset.active).order_by(Asset.code)).all()
            raise InvalidInput(f"unknown currency {code[:10]!r}", details={"field": "currency", "allowed": list(known)})
        cache[code] = found
    return cache[code]


def _account_ids(session: Session, keys: set[tuple[uuid.UUID | None, str, str]]) -> dict[tuple[Any, ...], uuid.UUID]:
    """Ids of the accounts (owner, asset, purpose), creating the missing ones (in one query when none is)."""
    owned = [k for k in keys if k[0] is not None]
    platform = [(a, p) for o, a, p in keys if o is None]
    conditions = []
    if owned:
        conditions.append(tuple_(LedgerAccount.owner_id, LedgerAccount.asset, LedgerAccount.purpose).in_(owned))
    if platform:
        conditions.append(and_(LedgerAccount.owner_id.is_(None),
                               tuple_(LedgerAccount.asset, LedgerAccount.purpose).in_(platform)))
    rows = session.execute(select(LedgerAccount.id, LedgerAccount.owner_id, LedgerAccount.asset,
                                  LedgerAccount.purpose).where(or_(*conditions)))
    found = {(o, a, p): i for i, o, a, p in rows}
    missing = keys - found.keys()
    if not missing:
        return found
    session.execute(
        text("INSERT INTO ledger_accounts (id, owner_id, asset, purpose, balance) "
             "VALUES (:id, :owner, :asset, :purpose, :balance) ON CONFLICT DO NOTHING"),
        [{"id": uuid.uuid4(), "owner": o, "asset": a, "purpose": p, "balance": Decimal(0) if o else None}
         for o, a, p in missing],
    )
    return _account_ids(session, keys)


def post(
    session: Session,
    *,
    kind: str,
    legs: list[Leg],
    created_by: uuid.UUID | None = None,
    description: str | None = None,
    reference_type: str | None = None,
    reference_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Write one balanced journal entry and return its id.

    Raises:
        InsufficientFunds: a user account would go below zero (nothing is written).
        InvalidInput: the legs do not balance per asset.
    """
    totals: dict[str, Decimal] = {}
    for leg in legs:
        if leg.amount == 0:
            raise InvalidInput("a posting of zero moves nothing")
        totals[leg.asset] = totals.get(leg.asset, Decimal(0)) + leg.amount
    unbalanced = {a: t for a, t in totals.items() if t != 0}
    if unbalanced:
        raise InvalidInput("the entry does not balance", details={k: str(v) for k, v in unbalanced.items()})
    ids = _account_ids(session, {leg.key for leg in legs})
    _lock_and_check(session, legs, ids)
    entry_id = uuid.uuid4()
    session.execute(
        text(
            "WITH entry AS (INSERT INTO journal_entries (id, kind, description, created_by, reference_type,"
            " reference_id) VALUES (:id, :kind, :description, :created_by, :reference_type, :reference_id))"
            " INSERT INTO postings (entry_id, account_id, asset, amount)"
            " SELECT CAST(:id AS uuid), leg.account_id, leg.asset, leg.amount"
            " FROM unnest(CAST(:accounts AS uuid[]), CAST(:assets AS varchar[]), CAST(:amounts AS numeric[]))"
            " WITH ORDINALITY AS leg(account_id, asset, amount, n) ORDER BY leg.n"
        ),
        {
            "id": entry_id, "kind": kind, "description": description, "created_by": created_by,
            "reference_type": reference_type, "reference_id": reference_id,
            "accounts": [ids[leg.key] for leg in legs], "assets": [leg.asset for leg in legs],
            "amounts": [leg.amount for leg in legs],
        },
    )
    return entry_id


def _lock_and_check(session: Session, legs: list[Leg], ids: dict[tuple[Any, ...], uuid.UUID]) -> None:
    """Lock every user account of the entry in id order (no deadlock between two entries), check debits."""
    user_ids = sorted({ids[leg.key] for leg in legs if leg.owner_id is not None})
    if not user_ids:
        return
    balances = {account: balance for account, balance in session.execute(
        text("SELECT id, balance FROM ledger_accounts WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
        {"ids": user_ids})}
    change: dict[uuid.UUID, Decimal] = {}
    for leg in legs:
        if leg.owner_id is not None:
            change[ids[leg.key]] = change.get(ids[leg.key], Decimal(0)) + leg.amount
    for leg in legs:
        account = ids[leg.key]
        if leg.owner_id is not None and balances[account] + change[account] < 0:
            raise InsufficientFunds(
                f"insufficient funds: {leg.purpose} {leg.asset} balance is {balances[account].normalize():f}, "
                f"{(-change[account]).normalize():f} needed",
                details={"asset": leg.asset, "purpose": leg.purpose, "balance": str(balances[account]),
                         "needed": str(-change[account])},
            )


def balances(session: Session, owner_id: uuid.UUID) -> dict[str, dict[str, Decimal]]:
    """A user's balances: asset -> {"available": ..., "held": ...} (only assets ever used)."""
    out: dict[str, dict[str, Decimal]] = {}
    rows = session.execute(select(LedgerAccount.asset, LedgerAccount.purpose, LedgerAccount.balance)
                           .where(LedgerAccount.owner_id == owner_id).order_by(LedgerAccount.asset))
    for code, purpose, balance in rows:
        out.setdefault(code, {"available": Decimal(0), "held": Decimal(0)})[purpose] = balance
    return out


def place_hold(
    session: Session,
    *,
    owner_id: uuid.UUID,
    asset: str,
    amount: Decimal,
    reason: str,
    reference_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
    created_by: uuid.UUID | None = None,
) -> Hold:
    """Reserve `amount` of the owner's available money (moved to held) until posted or voided.

    Raises:
        InsufficientFunds: less is available.
    """
    hold = Hold(id=uuid.uuid4(), owner_id=owner_id, asset=asset, amount=amount, reason=reason,
                reference_id=reference_id, expires_at=expires_at)
    session.add(hold)
    session.flush()
    post(session, kind="hold", created_by=created_by, reference_type="hold", reference_id=hold.id,
         description=reason, legs=[Leg(owner_id, asset, "available", -amount), Leg(owner_id, asset, "held", amount)])
    return hold


def _resolve(session: Session, hold_id: uuid.UUID, status: str, posted: Decimal | None = None) -> Hold:
    """Move a pending hold to `status`, exactly once: the conditional UPDATE is the decision."""
    values: dict[str, Any] = {"status": status, "resolved_at": now()}
    if posted is not None:
        values["posted"] = posted
    row = session.execute(
        text("UPDATE holds SET status = :status, resolved_at = :resolved_at"
             + (", posted = :posted" if posted is not None else "")
             + " WHERE id = :id AND status = 'pending' RETURNING id"),
        {**values, "id": hold_id},
    ).first()
    if row is None:
        current = session.get(Hold, hold_id)
        if current is None:
            raise NotFound("no such hold", details={"hold_id": str(hold_id)})
        raise InvalidState(f"this hold is already {current.status}", details={"hold_id": str(hold_id)})
    hold = session.get(Hold, hold_id, populate_existing=True)
    assert hold is not None
    return hold


def post_hold(
    session: Session,
    hold_id: uuid.UUID,
    *,
    to: Leg,
    amount: Decimal | None = None,
    kind: str,
    created_by: uuid.UUID | None = None,
) -> Hold:
    """Spend a hold, in full or in part, towards the account of `to` (its amount is ignored); the rest
    returns to the owner's available balance.

    Raises:
        InvalidState: the hold is no longer pending.
        InvalidInput: more than the hold's amount.
    """
    current = session.get(Hold, hold_id)
    if current is None:
        raise NotFound("no such hold", details={"hold_id": str(hold_id)})
    spend = current.amount if amount is None else amount
    if spend <= 0 or spend > current.amount:
        raise InvalidInput("a hold posts more than zero and at most its amount", details={"hold_id": str(hold_id)})
    hold = _resolve(session, hold_id, "posted", spend)
    legs = [Leg(hold.owner_id, hold.asset, "held", -hold.amount), Leg(to.owner_id, hold.asset, to.purpose, spend)]
    if spend < hold.amount:
        legs.append(Leg(hold.owner_id, hold.asset, "available", hold.amount - spend))
    post(session, kind=kind, legs=legs, created_by=created_by, reference_type="hold", reference_id=hold.id)
    return hold


def void_hold(session: Session, hold_id: uuid.UUID, *, expired: bool = False,
              created_by: uuid.UUID | None = None) -> Hold:
    """Release a pending hold back to the owner's available balance.

    Raises:
        InvalidState: the hold is no longer pending.
    """
    hold = _resolve(session, hold_id, "expired" if expired else "voided")
    post(session, kind="release", created_by=created_by, reference_type="hold", reference_id=hold.id,
         legs=[Leg(hold.owner_id, hold.asset, "held", -hold.amount),
               Leg(hold.owner_id, hold.asset, "available", hold.amount)])
    return hold


def expire_holds(session: Session, *, at: datetime | None = None, limit: int = 500) -> list[uuid.UUID]:
    """Release pending holds whose time is up; safe to run from many processes at once."""
    due = session.scalars(
        select(Hold.id).where(Hold.status == "pending", Hold.expires_at <= (at or now()))
        .order_by(Hold.expires_at).limit(limit).with_for_update(skip_locked=True)
    ).all()
    for hold_id in due:
        void_hold(session, hold_id, expired=True)
    return list(due)


@dataclass(frozen=True)
class Drift:
    account_id: uuid.UUID
    owner_id: uuid.UUID | None
    asset: str
    purpose: str
    cached: Decimal | None
    from_postings: Decimal


@dataclass(frozen=True)
class Verification:
    accounts: int
    postings: int
    drift: list[Drift]
    unbalanced_entries: list[tuple[uuid.UUID, str, Decimal]]
    orphaned_holds: list[tuple[uuid.UUID | None, str, Decimal, Decimal]]  # owner, asset, held, pending holds

    @property
    def ok(self) -> bool:
        return not (self.drift or self.unbalanced_entries or self.orphaned_holds)


def verify(session: Session) -> Verification:
    """Recompute the books from the postings: every cached balance, every entry, every hold.

    Run it in a REPEATABLE READ transaction so that it sees one moment of the books.
    """
    drift = [
        Drift(r.id, r.owner_id, r.asset, r.purpose, r.balance, r.total)
        for r in session.execute(text(
            "SELECT a.id, a.owner_id, a.asset, a.purpose, a.balance, coalesce(p.total, 0) AS total"
            " FROM ledger_accounts a LEFT JOIN (SELECT account_id, sum(amount) AS total FROM postings"
            " GROUP BY account_id) p ON p.account_id = a.id"
            " WHERE a.balance IS NOT NULL AND a.balance <> coalesce(p.total, 0)"))
    ]
    unbalanced = [(r.entry_id, r.asset, r.total) for r in session.execute(text(
        "SELECT entry_id, asset, sum(amount) AS total FROM postings GROUP BY entry_id, asset"
        " HAVING sum(amount) <> 0"))]
    # Money on a held account is exactly the money of its pending holds: no hold is lost, none invented.
    orphaned = [(r.owner_id, r.asset, r.held, r.pending) for r in session.execute(text(
        "SELECT coalesce(a.owner_id, h.owner_id) AS owner_id, coalesce(a.asset, h.asset) AS asset,"
        " coalesce(a.balance, 0) AS held, coalesce(h.pending, 0) AS pending"
        " FROM (SELECT owner_id, asset, balance FROM ledger_accounts WHERE purpose = 'held') a"
        " FULL JOIN (SELECT owner_id, asset, sum(amount) AS pending FROM holds WHERE status = 'pending'"
        " GROUP BY owner_id, asset) h ON h.owner_id = a.owner_id AND h.asset = a.asset"
        " WHERE coalesce(a.balance, 0) <> coalesce(h.pending, 0)"))]
    counts = session.execute(text(
        "SELECT (SELECT count(*) FROM ledger_accounts), (SELECT count(*) FROM postings)")).one()
    return Verification(accounts=counts[0], postings=counts[1], drift=drift, unbalanced_entries=unbalanced,
                        orphaned_holds=orphaned)

