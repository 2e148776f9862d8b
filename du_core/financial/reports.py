"""Periodic statements of a user's money: opening balance, inflows, outflows, fees, closing balance.

A user's money in an asset is their total, available + held. A flow is an entry's net effect on
that total: moving money between the user's own available and held accounts is no flow, a
deposit is an inflow, a withdrawal or the sold side of an exchange an outflow. Fees are the
postings of the user's entries to the platform's fee account (the exchange spread, for one);
they are shown beside the flows, whose net effect already contains them, so that

    closing = opening + inflows - outflows

holds to the last digit. pandas groups and accumulates; every amount stays a Decimal in an
object column (never a float), and the year's closing balances are reconciled with the postings,
read in the same statement as the flows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from du_core.errors import InternalError
from du_core.financial.schemas import Period, ReportRow, ReportView
from du_core.money import exact

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

ZERO = Decimal(0)
FLOWS = ["inflows", "outflows", "fees"]


@dataclass(frozen=True)
class Bucket:
    index: int
    label: str


def buckets(year: int, period: Period, *, today: date, through_month: int = 0) -> list[Bucket]:
    """The periods of `year` that have begun by `today` (none for a future year), and at least up to
    `through_month` (money already booked there, should the database's clock run ahead of ours)."""
    last_month = max(12 if year < today.year else (today.month if year == today.year else 0), through_month)
    if period == "monthly":
        return [Bucket(m, f"{year}-{m:02d}") for m in range(1, last_month + 1)]
    if period == "quarterly":
        return [Bucket(q, f"{year}-Q{q}") for q in range(1, (last_month + 2) // 3 + 1)]
    return [Bucket(1, str(year))] if last_month else []


def bucket_of(month: int, period: Period) -> int:
    return month if period == "monthly" else (month - 1) // 3 + 1 if period == "quarterly" else 1


@dataclass
class _Books:
    """What the statement of a year is made of, read from the postings in one statement (one snapshot)."""

    opening: dict[str, Decimal] = field(default_factory=dict)
    flows: list[tuple[int, str, Decimal]] = field(default_factory=list)  # (month, asset, an entry's net)
    fees: list[tuple[int, str, Decimal]] = field(default_factory=list)  # (month, asset, a fee posting)
    closing: dict[str, Decimal] = field(default_factory=dict)  # totals at the end of the year


_BOOKS_SQL = """
WITH mine AS (
    SELECT p.entry_id, p.asset, p.amount, e.created_at FROM postings p
    JOIN ledger_accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id
    WHERE a.owner_id = :owner AND e.created_at < :end
      AND (CAST(:currency AS varchar) IS NULL OR p.asset = :currency))
SELECT 'opening' AS part, 0 AS month, asset, sum(amount) AS amount FROM mine
    WHERE created_at < :start GROUP BY asset
UNION ALL
SELECT 'flow', extract(month FROM created_at AT TIME ZONE 'UTC')::int, asset, sum(amount) FROM mine
    WHERE created_at >= :start GROUP BY entry_id, created_at, asset HAVING sum(amount) <> 0
UNION ALL
SELECT 'fee', extract(month FROM e.created_at AT TIME ZONE 'UTC')::int, p.asset, p.amount FROM postings p
    JOIN ledger_accounts a ON a.id = p.account_id AND a.owner_id IS NULL AND a.purpose = 'fees'
    JOIN journal_entries e ON e.id = p.entry_id
    WHERE p.entry_id IN (SELECT entry_id FROM mine WHERE created_at >= :start)
      AND (CAST(:currency AS varchar) IS NULL OR p.asset = :currency)
UNION ALL
SELECT 'closing', 0, asset, sum(amount) FROM mine GROUP BY asset
"""


def _fetch(session: Session, owner: uuid.UUID, year: int, currency: str | None) -> _Books:
    """The user's postings of `year` and before, summed as the statement needs them."""
    from sqlalchemy import text

    books = _Books()
    params: dict[str, Any] = {"owner": owner, "currency": currency,
                              "start": datetime(year, 1, 1, tzinfo=timezone.utc),
                              "end": datetime(year + 1, 1, 1, tzinfo=timezone.utc)}
    for part, month, asset, amount in session.execute(text(_BOOKS_SQL), params):
        if part == "opening":
            books.opening[asset] = amount
        elif part == "closing":
            books.closing[asset] = amount
        else:
            (books.flows if part == "flow" else books.fees).append((month, asset, amount))
    return books


def _frame(rows: list[tuple[int, str, Decimal]], period: Period) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["month", "asset", "amount"]).astype({"amount": object})
    frame["bucket"] = [bucket_of(m, period) for m in frame["month"]]
    return frame


def _sums(frame: pd.DataFrame, column: str, index: pd.MultiIndex) -> pd.Series:
    """`frame[column]` summed per (asset, bucket), on every pair of `index` (Decimal zero where none)."""
    import pandas as pd

    if frame.empty:
        return pd.Series([ZERO] * len(index), index=index, dtype=object, name=column)
    summed = frame.groupby(["asset", "bucket"])[column].sum()
    return summed.reindex(index, fill_value=ZERO).astype(object).rename(column)


def statement(session: Session, owner: uuid.UUID, *, year: int, period: Period, currency: str | None = None,
              today: date | None = None) -> ReportView:
    """The user's statement of `year`: one row per period and asset that had a balance or a flow."""
    import pandas as pd
    from sqlalchemy import select

    from du_core.ledger.models import Asset

    books = _fetch(session, owner, year, currency)
    booked = max((month for month, _, _ in books.flows + books.fees), default=0)
    periods = buckets(year, period, today=today or datetime.now(timezone.utc).date(), through_month=booked)
    opening = books.opening
    flows, fees = _frame(books.flows, period), _frame(books.fees, period)
    flows["inflows"] = [v if v > 0 else ZERO for v in flows["amount"]]
    flows["outflows"] = [-v if v < 0 else ZERO for v in flows["amount"]]
    fees["fees"] = list(fees["amount"])
    assets = sorted(set(opening) | set(flows["asset"]) | set(fees["asset"]))
    if not periods or not assets:
        return ReportView(year=year, period=period, items=[])
    index = pd.MultiIndex.from_product([assets, [b.index for b in periods]], names=["asset", "bucket"])
    table = pd.concat([_sums(flows, "inflows", index), _sums(flows, "outflows", index), _sums(fees, "fees", index)],
                      axis=1)
    table["change"] = table["inflows"] - table["outflows"]
    start = pd.Series([opening.get(asset, ZERO) for asset, _ in table.index], index=table.index, dtype=object)
    # groupby's own cumsum refuses object columns; Series.cumsum adds the Decimals as they are
    table["closing"] = start + table.groupby(level="asset")["change"].transform(lambda s: s.cumsum())
    table["opening"] = table["closing"] - table["change"]

    ends = table.groupby(level="asset")["closing"].last()
    for asset, closing in books.closing.items():
        if _decimal(ends.get(asset, ZERO)) != closing:
            raise InternalError(f"the {year} statement of {asset} does not reconcile with the books")

    places = {code: p for code, p in session.execute(
        select(Asset.code, Asset.precision).where(Asset.code.in_(assets)))}
    labels = {b.index: b.label for b in periods}
    items = []
    for (asset, bucket), row in table.sort_index(level=["bucket", "asset"]).iterrows():
        values = {k: _decimal(row[k]) for k in ("opening", *FLOWS, "closing")}
        if not any(values.values()):
            continue  # no balance and no movement: nothing to report
        items.append(ReportRow(period=labels[bucket], currency=asset,
                               **{k: exact(v, places[asset]) for k, v in values.items()}))
    return ReportView(year=year, period=period, items=items)


def _decimal(value: object) -> Decimal:
    """A cell of the table, which must still be a Decimal (a float would mean lost digits)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"a statement amount became {type(value).__name__}")
