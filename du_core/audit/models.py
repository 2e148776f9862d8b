"""The audit trail: append-only rows linked in hash chains, and the head of each chain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from du_core.db.base import Base, uuid_pk

OUTCOMES = ("success", "denied", "failed")


class AuditTrail(Base):
    __tablename__ = "audit_trails"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        CheckConstraint(f"outcome IN {OUTCOMES}", name="outcome"),
        CheckConstraint("seq > 0", name="seq"),
        Index("ix_audit_trails_occurred_at", "occurred_at"),
        Index("ix_audit_trails_actor_id_occurred_at", "actor_id", "occurred_at"),
        Index("ix_audit_trails_target_id_occurred_at", "target_id", "occurred_at"),
        Index("ix_audit_trails_action_occurred_at", "action", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    chain: Mapped[int] = mapped_column(SmallInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime]
    actor_id: Mapped[uuid.UUID | None]  # no foreign key: the trail outlives the accounts it names
    actor_role: Mapped[str | None] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(32))
    profile: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(8))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditChain(Base):
    """The newest link of one chain. Writers pick a chain each, so they rarely wait on each other."""

    __tablename__ = "audit_chains"
    __table_args__ = (CheckConstraint("seq >= 0", name="seq"),)

    chain: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
