"""The risk area's one table: the history of each user's risk limit statuses (migration 0006).

Monitoring evaluates every limit of a user and writes a row only when a limit's status differs
from the status of that user's last row for the same limit (a limit without a row counts as
"ok"), so the table is the alert history: when a limit went into warn or breach, and when it came
back. Rows are never changed; a limit that cannot be evaluated (too little history) writes none.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from du_core.db.base import Amount, Base, uuid_pk
from du_core.db.base import created_at as stamped

ALERT_STATES = ("ok", "warn", "breach")


class RiskAlert(Base):
    """One change of a user's status against one risk limit, with the value and limit that caused it."""

    __tablename__ = "risk_alerts"
    __table_args__ = (
        CheckConstraint(f"status IN {ALERT_STATES}", name="status"),
        CheckConstraint("limit_name ~ '^[a-z][a-z0-9_]{0,31}$'", name="limit_name"),
        CheckConstraint("value IS NULL OR (value > -1e20 AND value < 1e20)", name="value"),
        CheckConstraint("limit_value >= 0 AND limit_value < 1e20", name="limit_value"),
        # a user's history newest first, and the last status of each limit
        Index("ix_risk_alerts_user_id_limit_name_created_at", "user_id", "limit_name", text("created_at DESC")),
        Index("ix_risk_alerts_user_id_created_at", "user_id", text("created_at DESC")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    limit_name: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8))
    value: Mapped[Amount | None]
    limit_value: Mapped[Amount]
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = stamped()


__all__ = ["ALERT_STATES", "RiskAlert"]
