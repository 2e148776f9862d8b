"""Requests and results of exchange rates and currency exchange."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from du_core.admin.schemas import UtcTime
from du_core.financial.schemas import Currency
from du_core.fx.ecb import DEFAULT_URL
from du_core.validation import AmountText, Exact, IdempotencyKey, Request, View


class SetRate(Request):
    """1 `base` = `rate` `quote` from `as_of` (now when left out); the rate is text, parsed strictly."""

    base: Currency
    quote: Currency
    rate: AmountText
    as_of: UtcTime | None = None

    @model_validator(mode="after")
    def _two_assets(self) -> SetRate:
        if self.base == self.quote:
            raise ValueError("base and quote are the same currency")
        return self


def _http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
        raise ValueError("the rates source is an http:// or https:// URL")
    return value


class ImportRates(Request):
    url: Annotated[str, Field(max_length=2000), AfterValidator(_http_url)] = DEFAULT_URL


class RateQuery(Request):
    base: Currency | None = None


class RateView(View):
    """A stored rate."""

    id: uuid.UUID
    base: str
    quote: str
    rate: Exact
    source: str
    as_of: datetime
    created_by: uuid.UUID | None


class RateRow(View):
    """A rate in force: stored, its inverse, or a cross rate `via` a third currency."""

    base: str
    quote: str
    rate: Exact
    as_of: datetime
    age: str  # 3d 04h, 2h 05m
    stale: bool
    source: str | None
    via: str | None


class ImportedRate(View):
    quote: str
    rate: Exact
    new: bool


class ImportView(View):
    source: str
    url: str
    day: date
    as_of: datetime
    quoted: int  # currencies in the file
    new: int  # rates stored by this import (0 when the same file was imported before)
    skipped: list[str]  # quoted currencies the platform does not list
    rates: list[ImportedRate]


class Exchange(Request):
    """Sell `amount` of `from_currency` for `to_currency`; `quote_only` prices it without moving money."""

    from_currency: Currency
    to_currency: Currency
    amount: AmountText
    idempotency_key: IdempotencyKey | None = None
    quote_only: bool = False


class ExchangeView(View):
    executed: bool
    entry_id: uuid.UUID | None
    from_currency: str
    from_amount: Exact
    to_currency: str
    to_amount: Exact  # what the caller receives
    gross_amount: Exact  # at the rate, before the spread
    fee: Exact  # gross - received, in to_currency, kept by the platform
    rate: Exact
    spread: Exact
    rate_as_of: datetime
    via: str | None
