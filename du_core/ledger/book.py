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

from sqlalchemy import event, select, text

from du_core.db import fast
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


@dataclass(frozen=True)
class AssetInfo:
    code: str
    name: str
    kind: str
    precision: int


# Assets are added, never changed or removed: once seen committed, they are remembered per database.
_ASSETS: dict[tuple[Any, str], AssetInfo] = {}


def asset(session: Session, code: str) -> AssetInfo:
    """The active asset `code` (case-insensitive).

    Raises:
        InvalidInput: unknown or inactive asset (listing the known ones).
    """
    code = code.strip().upper()
    key = (session.get_bind(), code)  # the engine itself: hashing a URL renders it, every time
    if key in _ASSETS:
        return _ASSETS[key]
    found = fast.execute(session, "SELECT code, name, kind, precision FROM assets WHERE code = %(c)s AND active",
                         {"c": code}).fetchone()
    if found is None:
        known = session.scalars(select(Asset.code).where(Asset.active).order_by(Asset.code)).all()
        raise InvalidInput(f"unknown currency {code[:10]!r}", details={"field": "currency", "allowed": list(known)})
    info = AssetInfo(*found)
    event.listen(session, "after_commit", lambda _s: _ASSETS.__setitem__(key, info), once=True)
    return info


# Platform accounts (owner None) never change or disappear once created, and every entry touches
# one: their ids are remembered per database once a transaction that saw them has committed.
_PLATFORM_IDS: dict[tuple[Any, str, str], uuid.UUID] = {}

_LOCK_OWNED = (
    "SELECT a.id, a.owner_id, a.asset, a.purpose, a.balance FROM ledger_accounts a"
    " JOIN unnest(%(owners)s::uuid[], %(assets)s::varchar[], %(purposes)s::varchar[]) AS k(owner_id, asset, purpose)"
    " ON a.owner_id = k.owner_id AND a.asset = k.asset AND a.purpose = k.purpose"
    " ORDER BY a.id FOR UPDATE OF a"
)
_FIND_PLATFORM = (
    "SELECT a.id, a.asset, a.purpose FROM ledger_accounts a"
    " JOIN unnest(%(assets)s::varchar[], %(purposes)s::varchar[]) AS k(asset, purpose)"
    " ON a.owner_id IS NULL AND a.asset = k.asset AND a.purpose = k.purpose"
)
_CREATE = (
    "INSERT INTO ledger_accounts (id, owner_id, asset, purpose, balance)"
    " SELECT gen_random_uuid(), k.owner_id, k.asset, k.purpose, CASE WHEN k.owner_id IS NULL THEN NULL ELSE 0 END"
    " FROM unnest(%(owners)s::uuid[], %(assets)s::varchar[], %(purposes)s::varchar[]) AS k(owner_id, asset, purpose)"
    " ON CONFLICT DO NOTHING"
)


def _accounts(session: Session, legs: list[Leg]) -> dict[tuple[Any, ...], uuid.UUID]:
    """The ids of the legs' accounts (created when missing), with every user account of the entry
    locked in id order (two entries never deadlock) and its debits checked against its balance.

    Raises:
        InsufficientFunds: a user account would go below zero.
    """

    database = session.get_bind()
    keys = {leg.key for leg in legs}
    owned = sorted((k for k in keys if k[0] is not None), key=str)
    ids: dict[tuple[Any, ...], uuid.UUID] = {}
    balances: dict[uuid.UUID, Decimal] = {}
    if owned:
        for account, owner, code, purpose, balance in fast.execute(session, _LOCK_OWNED, {
                "owners": [k[0] for k in owned], "assets": [k[1] for k in owned], "purposes": [k[2] for k in owned]}):
            ids[(owner, code, purpose)], balances[account] = account, balance
    platform = [k for k in keys if k[0] is None]
    unknown = [k for k in platform if (database, k[1], k[2]) not in _PLATFORM_IDS]
    if unknown:
        found = fast.execute(session, _FIND_PLATFORM, {"assets": [k[1] for k in unknown],
                                                       "purposes": [k[2] for k in unknown]}).fetchall()
        seen = {(database, code, purpose): account for account, code, purpose in found}
        event.listen(session, "after_commit", lambda _s: _PLATFORM_IDS.update(seen), once=True)
        ids.update({(None, code, purpose): account for (_, code, purpose), account in seen.items()})
    ids.update({k: _PLATFORM_IDS[(database, k[1], k[2])] for k in platform if (database, k[1], k[2]) in _PLATFORM_IDS})
    missing = keys - ids.keys()
    if missing:
        fast.execute(session, _CREATE, {"owners": [k[0] for k in missing], "assets": [k[1] for k in missing],
                                        "purposes": [k[2] for k in missing]})
        return _accounts(session, legs)
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
    return ids


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
    ids = _accounts(session, legs)
    entry_id = uuid.uuid4()
    fast.execute(
        session,
        "WITH entry AS (INSERT INTO journal_entries (id, kind, description, created_by, reference_type,"
        " reference_id) VALUES (%(id)s, %(kind)s, %(description)s, %(created_by)s, %(reference_type)s,"
        " %(reference_id)s)) INSERT INTO postings (entry_id, account_id, asset, amount)"
        " SELECT %(id)s, leg.account_id, leg.asset, leg.amount"
        " FROM unnest(%(accounts)s::uuid[], %(assets)s::varchar[], %(amounts)s::numeric[])"
        " WITH ORDINALITY AS leg(account_id, asset, amount, n) ORDER BY leg.n",
        {
            "id": entry_id, "kind": kind, "description": description, "created_by": created_by,
            "reference_type": reference_type, "reference_id": reference_id,
            "accounts": [ids[leg.key] for leg in legs], "assets": [leg.asset for leg in legs],
            "amounts": [leg.amount for leg in legs],
        },
    )
    return entry_id


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
) -> uuid.UUID:
    """Spend a hold, in full or in part, towards the account of `to` (its amount is ignored); the rest
    returns to the owner's available balance. Returns the id of the entry that spends it.

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
    return post(session, kind=kind, legs=legs, created_by=created_by, reference_type="hold", reference_id=hold.id)


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
    # Money on a held account is exactly what its pending holds and live orders reserve: nothing lost, none invented.
    orphaned = [(r.owner_id, r.asset, r.held, r.pending) for r in session.execute(text(
        "SELECT coalesce(a.owner_id, h.owner_id) AS owner_id, coalesce(a.asset, h.asset) AS asset,"
        " coalesce(a.balance, 0) AS held, coalesce(h.pending, 0) AS pending"
        " FROM (SELECT owner_id, asset, balance FROM ledger_accounts WHERE purpose = 'held') a"
        " FULL JOIN (SELECT owner_id, asset, sum(amount) AS pending FROM ("
        "  SELECT owner_id, asset, amount FROM holds WHERE status = 'pending'"
        "  UNION ALL SELECT user_id, hold_asset, held FROM orders WHERE held > 0"
        " ) r GROUP BY owner_id, asset) h ON h.owner_id = a.owner_id AND h.asset = a.asset"
        " WHERE coalesce(a.balance, 0) <> coalesce(h.pending, 0)"))]
    counts = session.execute(text(
        "SELECT (SELECT count(*) FROM ledger_accounts), (SELECT count(*) FROM postings)")).one()
    return Verification(accounts=counts[0], postings=counts[1], drift=drift, unbalanced_entries=unbalanced,
                        orphaned_holds=orphaned)

