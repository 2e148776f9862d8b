"""The ledger's tables: assets, accounts, journal entries, postings, holds, idempotency keys.

The database enforces the books, not only the code (see migration 0002): postings are
insert-only and sum to zero per asset within each entry (checked at commit), each posting
updates its account's cached balance in the same statement, balances of user and fee accounts
never go below zero, and amounts respect their asset's decimal places.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger, CheckConstraint, ForeignKey, Identity, Index, LargeBinary, SmallInteger, String,
    UniqueConstraint, text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from du_core.db.base import Amount, Base, created_at, uuid_pk
from du_core.users import models as _users  # noqa: F401 - the users table our foreign keys name

ASSET_KINDS = ("fiat", "crypto")
USER_PURPOSES = ("available", "held")
PLATFORM_PURPOSES = ("fees", "external", "fx")
PURPOSES = USER_PURPOSES + PLATFORM_PURPOSES
HOLD_STATES = ("pending", "posted", "voided", "expired")
FINITE = "{c} > -1e20 AND {c} < 1e20"  # false for NaN and the infinities, too


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint("code ~ '^[A-Z][A-Z0-9]{1,9}$'", name="code"),
        CheckConstraint(f"kind IN {ASSET_KINDS}", name="kind"),
        CheckConstraint("precision BETWEEN 0 AND 18", name="precision"),
    )

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    precision: Mapped[int] = mapped_column(SmallInteger)
    active: Mapped[bool] = mapped_column(server_default="true", default=True)
    created_at: Mapped[datetime] = created_at()


class LedgerAccount(Base):
    """One balance: a user's available or held money in one asset, or a platform account.

    A user account caches its balance (updated by each posting, never below zero). A platform
    account (fees, the outside world, the FX desk) caches none: every deposit, trade and fee of
    every user touches one, and a cached balance there would make all of them queue on one row.
    Its balance is the sum of its postings (`du admin ledger verify`, reports).
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("owner_id", "asset", "purpose", postgresql_nulls_not_distinct=True),
        CheckConstraint(f"purpose IN {PURPOSES}", name="purpose"),
        CheckConstraint(f"(owner_id IS NULL) = (purpose IN {PLATFORM_PURPOSES})", name="owner_purpose"),
        CheckConstraint("(owner_id IS NULL) = (balance IS NULL)", name="cached_for_users"),
        CheckConstraint("balance >= 0", name="not_negative"),
        CheckConstraint(FINITE.format(c="balance"), name="balance_finite"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    asset: Mapped[str] = mapped_column(ForeignKey("assets.code"))
    purpose: Mapped[str] = mapped_column(String(10))
    balance: Mapped[Amount | None]
    created_at: Mapped[datetime] = created_at()


class JournalEntry(Base):
    """One business event in the books; its postings sum to zero per asset."""

    __tablename__ = "journal_entries"
    __table_args__ = (Index("ix_journal_entries_created_at", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID | None]
    reference_type: Mapped[str | None] = mapped_column(String(32))
    reference_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = created_at()


class Posting(Base):
    """One leg of an entry. Insert-only: a correction is a new entry, never an edit."""

    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="nonzero"),
        CheckConstraint(FINITE.format(c="amount"), name="amount_finite"),
        Index("ix_postings_account_id_id", "account_id", "id"),
        Index("ix_postings_entry_id", "entry_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    asset: Mapped[str] = mapped_column(String(10))  # must be the account's: checked by the posting trigger
    amount: Mapped[Amount]
    created_at: Mapped[datetime] = created_at()


class Hold(Base):
    """Money reserved from a user's available balance, resolved exactly once (TigerBeetle's pending transfer)."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint(f"status IN {HOLD_STATES}", name="status"),
        CheckConstraint("amount > 0 AND " + FINITE.format(c="amount"), name="amount"),
        CheckConstraint("posted >= 0 AND posted <= amount", name="posted"),
        CheckConstraint("(status = 'pending') = (resolved_at IS NULL)", name="resolved"),
        Index("ix_holds_owner_id_status", "owner_id", "status"),
        Index("ix_holds_pending_expiry", "expires_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    asset: Mapped[str] = mapped_column(ForeignKey("assets.code"))
    amount: Mapped[Amount]
    posted: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    status: Mapped[str] = mapped_column(String(8), server_default="pending", default="pending")
    reason: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[uuid.UUID | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    resolved_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """The first result of a money-moving request, replayed for any repeat with the same key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (CheckConstraint("char_length(key) BETWEEN 1 AND 128", name="key_length"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at()

