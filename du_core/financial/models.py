"""Tables of payments (deposits and withdrawals through a gateway) and FX rates."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from du_core.db.base import Amount, Base, created_at, uuid_pk
from du_core.ledger import models as _ledger  # noqa: F401 - assets, holds, entries and users our keys name

PAYMENT_KINDS = ("deposit", "withdrawal")
PAYMENT_STATES = ("pending", "processing", "completed", "failed", "cancelled")
GATEWAYS = ("manual", "sandbox")
FX_SOURCES = ("admin", "ecb")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(f"kind IN {PAYMENT_KINDS}", name="kind"),
        CheckConstraint(f"status IN {PAYMENT_STATES}", name="status"),
        CheckConstraint("amount > 0 AND amount < 1e20", name="amount"),
        CheckConstraint("(kind = 'withdrawal') = (hold_id IS NOT NULL)", name="withdrawal_hold"),
        CheckConstraint("(status = 'completed') = (completed_at IS NOT NULL)", name="completed"),
        Index("ix_payments_user_id_created_at", "user_id", "created_at"),
        Index("ix_payments_open", "created_at", postgresql_where=text("status IN ('pending', 'processing')")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(10))
    asset: Mapped[str] = mapped_column(ForeignKey("assets.code"))
    amount: Mapped[Amount]
    gateway: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10), server_default="pending", default="pending")
    destination: Mapped[str | None] = mapped_column(String(200))  # a withdrawal's bank account or address
    hold_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("holds.id"))
    entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("journal_entries.id"))
    gateway_reference: Mapped[str | None] = mapped_column(String(128))
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    completed_at: Mapped[datetime | None]


class FxRate(Base):
    """A rate observed at `as_of`: 1 unit of `base` is worth `rate` units of `quote`."""

    __tablename__ = "fx_rates"
    __table_args__ = (
        CheckConstraint("base <> quote", name="distinct_assets"),
        CheckConstraint("rate > 0 AND rate < 1e20", name="rate"),
        CheckConstraint(f"source IN {FX_SOURCES}", name="source"),
        UniqueConstraint("base", "quote", "as_of", "source"),
        Index("ix_fx_rates_base_quote_as_of", "base", "quote", text("as_of DESC")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    base: Mapped[str] = mapped_column(ForeignKey("assets.code"))
    quote: Mapped[str] = mapped_column(ForeignKey("assets.code"))
    rate: Mapped[Amount]
    source: Mapped[str] = mapped_column(String(8))
    as_of: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
