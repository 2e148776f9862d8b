"""Requests and results of platform administration: accounts, settings and the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from du_core.actor import Role
from du_core.users.schemas import PageRequest, Status
from du_core.validation import Exact, Request, View, clean_text

NOTES_MAX = 2000

Notes = Annotated[str, Field(max_length=4 * NOTES_MAX),
                  AfterValidator(lambda v: clean_text(v, field="notes", max_length=NOTES_MAX))]


def _as_utc(value: datetime) -> datetime:
    """A time without an offset is taken as UTC, the platform's clock."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


UtcTime = Annotated[datetime, AfterValidator(_as_utc)]
SettingValue = bool | int | Decimal | str
Outcome = Literal["success", "denied", "failed"]  # du_core.audit.models.OUTCOMES


class UpdateUser(Request):
    """Change some of an account's fields; fields left out stay as they are. Empty notes clear them."""

    user_id: uuid.UUID
    status: Status | None = None
    kyc_level: int | None = Field(default=None, ge=0, le=3)
    role: Role | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateUser:
        if self.status is None and self.kyc_level is None and self.role is None and self.notes is None:
            raise ValueError("nothing to change: give a status, KYC level, role or notes")
        return self


class UpdateSettings(Request):
    """New values of some settings, as text (each is parsed with its setting's type and bounds)."""

    values: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=256)]] = Field(min_length=1)


class SettingView(View):
    key: str
    value: SettingValue
    default: SettingValue
    type: str
    description: str
    minimum: SettingValue | None = None
    maximum: SettingValue | None = None
    updated_at: datetime | None = None
    updated_by: uuid.UUID | None = None


class AuditQuery(PageRequest):
    """Filters of the audit listing; `action` ending in `*` matches a prefix (`auth.*`)."""

    actor_id: uuid.UUID | None = None
    action: str | None = Field(default=None, min_length=1, max_length=64)
    target_id: str | None = Field(default=None, min_length=1, max_length=64)
    outcome: Outcome | None = None
    since: UtcTime | None = None
    until: UtcTime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AuditQuery:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since is after until")
        return self


class BreachView(View):
    """The first record of a chain that does not verify (no record id when records were cut off its end)."""

    record_id: uuid.UUID | None
    chain: int
    seq: int
    occurred_at: datetime | None
    reason: str


class AuditVerification(View):
    ok: bool
    records: int
    chains: int
    breaches: list[BreachView]


class QuoteActivity(View):
    """The exchange's trades in one quote currency: count, traded value, and fees the platform earned."""

    quote: str
    trades: int
    volume: Exact
    fees: Exact


class InstrumentState(View):
    symbol: str
    status: str
    last_price: Exact | None
    open_orders: int


class DashboardView(View):
    """The platform at a glance: accounts, the last 24 hours of trading, the book, and the switches."""

    as_of: datetime
    since: datetime
    trading_enabled: bool
    maintenance_mode: bool
    # accounts: flat, so that a table shows each figure on its own row
    users_total: int
    users_new_24h: int
    users_by_status: dict[str, int]
    users_by_role: dict[str, int]
    trading_24h: list[QuoteActivity]
    open_orders: int
    instruments: list[InstrumentState]
