"""Requests and results of a user's money: assets, balances, transactions and reports.

Amounts typed by users stay text until the operation parses them with the asset's precision
(`AmountText` keeps surrounding spaces, so " 100" is refused rather than quietly trimmed). Amounts
shown are `Exact`: a Decimal with the asset's decimal places that JSON, CSV and tables print in
plain notation ("0.00000001", never "1E-8").
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from du_core.validation import Exact, Paging, Request, View


Currency = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=2, max_length=10)]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _day_or_time(value: object) -> object:
    """A bare YYYY-MM-DD stays a date (a whole day); anything else is read as a time."""
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        return date.fromisoformat(value.strip())
    return value


DayOrTime = Annotated[datetime | date, BeforeValidator(_day_or_time)]


class AssetView(View):
    code: str
    name: str
    kind: str
    precision: int


class BalanceRow(View):
    currency: str
    available: Exact
    held: Exact
    total: Exact
    value: Exact | None  # the total in the base currency; None when no rate is known
    rate_stale: bool | None  # the rate behind `value` is older than fx_max_age_hours


class BalanceView(View):
    base_currency: str
    total_value: Exact | None  # the sum of the valued rows, in the base currency
    unvalued: list[str]  # currencies held without a rate to the base currency (not in total_value)
    stale: list[str]  # currencies valued with a stale rate
    balances: list[BalanceRow]


_KIND = re.compile(r"[a-z_]{1,32}", re.ASCII)


def _kind(value: str) -> str:
    value = value.strip().lower()
    if not _KIND.fullmatch(value):
        raise ValueError("an entry kind is a word such as deposit, withdrawal, hold, release or exchange")
    return value


EntryKind = Annotated[str, Field(max_length=64), AfterValidator(_kind)]


class TransactionQuery(Paging):
    """A page of the caller's postings; `since`/`until` take a time or a whole day (YYYY-MM-DD)."""

    currency: Currency | None = None
    kind: EntryKind | None = None
    since: DayOrTime | None = None
    until: DayOrTime | None = None


class TransactionRow(View):
    id: int
    entry_id: uuid.UUID
    created_at: datetime
    kind: str
    currency: str
    account: str  # available or held
    amount: Exact  # signed: positive adds to the account
    description: str | None
    reference_type: str | None
    reference_id: uuid.UUID | None


class TransactionPage(View):
    items: list[TransactionRow]
    page: int
    limit: int
    total: int


Period = Literal["monthly", "quarterly", "yearly"]


class ReportQuery(Request):
    period: Period = "monthly"
    year: int = Field(ge=1970, le=2999)
    currency: Currency | None = None


class ReportRow(View):
    period: str  # 2026-01, 2026-Q1 or 2026
    currency: str
    opening: Exact
    inflows: Exact
    outflows: Exact
    fees: Exact  # paid to the platform by these entries (already inside the flows' net effect)
    closing: Exact


class ReportView(View):
    year: int
    period: Period
    items: list[ReportRow]
