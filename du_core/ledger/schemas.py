"""Requests and results of the books' administration: verification, expiring holds, assets."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from du_core.validation import Request, View, clean_text

ASSET_CODE = re.compile(r"[A-Z][A-Z0-9]{1,9}", re.ASCII)  # the same pattern as ck_assets_code


class DriftView(View):
    """A user account whose cached balance is not the sum of its postings."""

    account_id: uuid.UUID
    owner_id: uuid.UUID | None
    owner_email: str | None
    asset: str
    purpose: str
    cached: Decimal | None
    from_postings: Decimal


class UnbalancedEntryView(View):
    """A journal entry whose postings in one asset do not sum to zero."""

    entry_id: uuid.UUID
    asset: str
    total: Decimal


class OrphanedHoldView(View):
    """A user's held balance in one asset that is not the sum of their pending holds."""

    owner_id: uuid.UUID | None
    owner_email: str | None
    asset: str
    held: Decimal
    pending_holds: Decimal


class LedgerVerification(View):
    """What `du admin ledger verify` found in one consistent snapshot of the books."""

    ok: bool
    as_of: datetime
    accounts: int
    postings: int
    drift: list[DriftView]
    unbalanced_entries: list[UnbalancedEntryView]
    orphaned_holds: list[OrphanedHoldView]


class ExpireHolds(Request):
    """Release pending holds whose expiry has passed, at most `limit` of them in one go."""

    limit: int = Field(default=500, ge=1, le=10_000)


class ExpiredHolds(View):
    released: int
    hold_ids: list[uuid.UUID]
    more_due: bool  # the limit was reached: run again to release the rest


class AddAsset(Request):
    """A new currency or coin; its code is what users type (case-insensitive, stored upper-case)."""

    code: str = Field(max_length=10)
    name: str = Field(max_length=256)
    kind: Literal["fiat", "crypto"]
    precision: int = Field(ge=0, le=18)

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        code = value.strip()
        if not code.isascii() or not ASSET_CODE.fullmatch(code := code.upper()):
            raise ValueError("an asset code is 2-10 letters and digits, starting with a letter (e.g. USDC)")
        return code

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(clean_text(value, field="name", max_length=64).split())
        if not value:
            raise ValueError("name is empty")
        return value


class AssetView(View):
    code: str
    name: str
    kind: str
    precision: int
    active: bool
    created_at: datetime
