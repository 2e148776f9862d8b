"""The portfolio's one table: what a user holds outside the platform, as they recorded it.

Platform holdings need no table: they are the user's ledger balances. An external holding is
whatever the user says they own elsewhere (BTC on another exchange, AAPL at a broker), so it can
be valued and analysed beside the platform's balances. Quantity 0 is not stored: the record is
deleted instead.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from du_core.db.base import Amount, Base
from du_core.db.base import created_at as stamped
from du_core.ledger import models as _ledger  # noqa: F401 - the assets our currency references

SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.\-]{0,23}$"
FINITE = "{c} < 1e20"


class ExternalHolding(Base):
    """A quantity of an asset or market symbol the user holds outside the platform, at average cost."""

    __tablename__ = "external_holdings"
    __table_args__ = (
        CheckConstraint(f"symbol ~ '{SYMBOL_PATTERN}'", name="symbol"),
        CheckConstraint("quantity > 0 AND " + FINITE.format(c="quantity"), name="quantity"),
        CheckConstraint("average_cost >= 0 AND " + FINITE.format(c="average_cost"), name="average_cost"),
        CheckConstraint("note IS NULL OR char_length(note) <= 200", name="note_length"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(24), primary_key=True)
    quantity: Mapped[Amount]
    average_cost: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    currency: Mapped[str] = mapped_column(ForeignKey("assets.code"), server_default="USD", default="USD")
    note: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = stamped()
