"""A user's money as they see it: the assets, their balances, their transactions and statements.

Everything here reads the books (du_core.ledger) and moves nothing: deposits and withdrawals live
in du_core.payments, currency exchange in du_core.fx. Amounts are shown with exactly their
asset's decimal places; a total in the user's base currency says which assets it could not value
instead of counting them as zero.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from du_core.actor import Actor
from du_core.errors import InvalidInput
from du_core.financial.schemas import (
    AssetView, BalanceRow, BalanceView, ReportQuery, ReportView, TransactionPage, TransactionQuery, TransactionRow,
)
from du_core.fx import rates
from du_core.ledger import book
from du_core.ledger.models import Asset, JournalEntry, LedgerAccount, Posting
from du_core.money import exact, quantize_down
from du_core.operations import operation
from du_core.users.models import UserProfile

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DEFAULT_BASE_CURRENCY = "USD"


@operation("financial.assets")
def list_assets(session: Session, actor: Actor, _: None = None) -> list[AssetView]:
    """The assets the platform lists, with the decimal places their amounts take."""
    return [AssetView.model_validate(a) for a in session.scalars(
        select(Asset).where(Asset.active).order_by(Asset.kind.desc(), Asset.code))]


def _precision(session: Session, code: str) -> int:
    """An asset's places, listed or not (old balances outlive a delisting)."""
    found = session.get(Asset, code)
    assert found is not None  # ledger accounts reference assets
    return found.precision


@operation("financial.balance")
def balance(session: Session, actor: Actor, _: None = None) -> BalanceView:
    """The caller's available, held and total money per asset, and the total in their base currency.

    An asset without a rate to the base currency is listed in `unvalued` and left out of the total;
    one valued with a stale rate is listed in `stale`.
    """
    assert actor.user_id is not None
    base = session.scalar(select(UserProfile.base_currency).where(UserProfile.user_id == actor.user_id))
    base = base or DEFAULT_BASE_CURRENCY
    base_asset = session.get(Asset, base)
    limit = rates.max_age(session)
    rows: list[BalanceRow] = []
    unvalued: list[str] = []
    stale: list[str] = []
    for code, parts in book.balances(session, actor.user_id).items():
        places = _precision(session, code)
        total = parts["available"] + parts["held"]
        value: Decimal | None = None
        rate_stale: bool | None = None
        if base_asset is not None and total == 0:
            value = exact(Decimal(0), base_asset.precision)
        elif base_asset is not None:
            found = rates.latest(session, code, base)
            if found is not None:
                with localcontext() as ctx:
                    ctx.prec = 80
                    value = quantize_down(total * found.rate, base_asset.precision)
                rate_stale = rates.is_stale(found, limit)
                if rate_stale:
                    stale.append(code)
        if value is None:
            unvalued.append(code)
        rows.append(BalanceRow(currency=code, available=exact(parts["available"], places),
                               held=exact(parts["held"], places), total=exact(total, places), value=value,
                               rate_stale=rate_stale))
    total_value = None
    if base_asset is not None:
        total_value = sum((r.value for r in rows if r.value is not None), exact(Decimal(0), base_asset.precision))
    return BalanceView(base_currency=base, total_value=total_value, unvalued=unvalued, stale=stale, balances=rows)


def _bound(value: datetime | date, *, end: bool) -> tuple[datetime, bool]:
    """A filter bound as a UTC time and whether it is inclusive; a whole day ends before the next one."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)), True
    start = datetime.combine(value, time(0), tzinfo=timezone.utc)
    return (start + timedelta(days=1), False) if end else (start, True)


@operation("financial.transactions")
def transactions(session: Session, actor: Actor, req: TransactionQuery) -> TransactionPage:
    """The postings on the caller's own accounts, newest first, with the kind of their entry.

    Raises:
        InvalidInput: an unknown currency, or `since` after `until`.
    """
    conditions = [LedgerAccount.owner_id == actor.user_id]
    if req.currency is not None:
        if session.get(Asset, req.currency) is None:
            book.asset(session, req.currency)  # raises, listing the known ones
        conditions.append(Posting.asset == req.currency)
    if req.kind is not None:
        conditions.append(JournalEntry.kind == req.kind)
    since = _bound(req.since, end=False) if req.since is not None else None
    until = _bound(req.until, end=True) if req.until is not None else None
    if since is not None and until is not None and since[0] > until[0]:
        raise InvalidInput("since is after until", details={"field": "since"})
    if since is not None:
        conditions.append(JournalEntry.created_at >= since[0])
    if until is not None:
        conditions.append(JournalEntry.created_at <= until[0] if until[1] else JournalEntry.created_at < until[0])
    joined = (select(Posting.id).join(LedgerAccount, LedgerAccount.id == Posting.account_id)
              .join(JournalEntry, JournalEntry.id == Posting.entry_id).where(*conditions))
    total = session.scalar(select(func.count()).select_from(joined.subquery())) or 0
    rows = session.execute(
        select(Posting.id, Posting.entry_id, JournalEntry.created_at, JournalEntry.kind, Posting.asset,
               LedgerAccount.purpose, Posting.amount, JournalEntry.description, JournalEntry.reference_type,
               JournalEntry.reference_id, Asset.precision)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Asset, Asset.code == Posting.asset)
        .where(*conditions)
        .order_by(JournalEntry.created_at.desc(), Posting.id.desc())
        .limit(req.limit).offset(req.offset)
    ).all()
    items = [
        TransactionRow(id=r.id, entry_id=r.entry_id, created_at=r.created_at, kind=r.kind, currency=r.asset,
                       account=r.purpose, amount=exact(r.amount, r.precision), description=r.description,
                       reference_type=r.reference_type, reference_id=r.reference_id)
        for r in rows
    ]
    return TransactionPage(items=items, page=req.page, limit=req.limit, total=total)


@operation("financial.reports")
def reports(session: Session, actor: Actor, req: ReportQuery) -> ReportView:
    """The caller's statement of a year: per period and asset, opening, inflows, outflows, fees, closing.

    Raises:
        InvalidInput: an unknown currency.
    """
    from du_core.financial.reports import statement

    assert actor.user_id is not None
    currency = None
    if req.currency is not None:
        currency = req.currency if session.get(Asset, req.currency) is not None else book.asset(
            session, req.currency).code
    return statement(session, actor.user_id, year=req.year, period=req.period, currency=currency)
