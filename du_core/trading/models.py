"""The exchange's tables: instruments and their rules, orders, trades and positions.

The database keeps the exchange honest, not only the code (migration 0003): an order never fills
more than its quantity, money reserved for an order (`held`) is zero once the order is finished,
a client order id is unique per user, and the book is read through partial indexes that hold
only resting orders in price-time order.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Identity, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from du_core.db.base import Amount, Base, uuid_pk
from du_core.db.base import created_at as stamped
from du_core.ledger import models as _ledger  # noqa: F401 - the assets and journal entries we reference

SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
TIFS = ("gtc", "ioc", "fok")
STP_MODES = ("cancel_newest", "cancel_oldest", "cancel_both")
ORDER_STATES = ("pending_trigger", "open", "partially_filled", "filled", "cancelled")
RESTING = ("open", "partially_filled")
INSTRUMENT_STATES = ("trading", "halted")
FINITE = "{c} > -1e20 AND {c} < 1e20"
RESTING_SQL = "status IN ('open', 'partially_filled')"


class Instrument(Base):
    """A pair traded on the exchange, with the rules every order must meet."""

    __tablename__ = "instruments"
    __table_args__ = (
        CheckConstraint("symbol ~ '^[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}$'", name="symbol"),
        CheckConstraint("base <> quote", name="distinct_assets"),
        CheckConstraint(f"status IN {INSTRUMENT_STATES}", name="status"),
        CheckConstraint("tick_size > 0 AND lot_size > 0 AND min_quantity > 0 AND min_notional >= 0", name="rules"),
        CheckConstraint("max_quantity >= min_quantity AND " + FINITE.format(c="max_quantity"), name="max_quantity"),
        CheckConstraint("price_band > 0 AND price_band < 1", name="price_band"),
    )

    symbol: Mapped[str] = mapped_column(String(21), primary_key=True)
    base: Mapped[str] = mapped_column(ForeignKey("assets.code"))
    quote: Mapped[str] = mapped_column(ForeignKey("assets.code"))
    tick_size: Mapped[Amount]
    lot_size: Mapped[Amount]
    min_quantity: Mapped[Amount]
    max_quantity: Mapped[Amount]
    min_notional: Mapped[Amount]
    price_band: Mapped[Amount] = mapped_column(server_default="0.05", default=Decimal("0.05"))
    status: Mapped[str] = mapped_column(String(8), server_default="trading", default="trading")
    # Changed only under the instrument's matching lock: the live feed's sequence and the band's reference.
    book_seq: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    last_price: Mapped[Amount | None]
    created_at: Mapped[datetime] = stamped()


class Order(Base):
    """One order and its state; `held` is what is still reserved for it in the ledger."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"side IN {SIDES}", name="side"),
        CheckConstraint(f"type IN {ORDER_TYPES}", name="type"),
        CheckConstraint(f"tif IN {TIFS}", name="tif"),
        CheckConstraint(f"stp IN {STP_MODES}", name="stp"),
        CheckConstraint(f"status IN {ORDER_STATES}", name="status"),
        CheckConstraint("quantity > 0 AND " + FINITE.format(c="quantity"), name="quantity"),
        CheckConstraint("filled >= 0 AND filled <= quantity", name="filled"),
        CheckConstraint("price IS NULL OR (price > 0 AND " + FINITE.format(c="price") + ")", name="price"),
        CheckConstraint("stop_price IS NULL OR (stop_price > 0 AND " + FINITE.format(c="stop_price") + ")",
                        name="stop_price"),
        CheckConstraint("(type IN ('limit', 'stop_limit')) = (price IS NOT NULL)", name="limit_price"),
        CheckConstraint("(type IN ('stop', 'stop_limit')) = (stop_price IS NOT NULL)", name="stop_has_price"),
        CheckConstraint("held >= 0", name="held"),
        CheckConstraint("status NOT IN ('filled', 'cancelled') OR held = 0", name="finished_holds_nothing"),
        CheckConstraint("(status = 'filled') = (filled = quantity)", name="filled_status"),
        CheckConstraint("quote_filled >= 0 AND fees >= 0", name="totals"),
        UniqueConstraint("user_id", "client_order_id"),
        Index("ix_orders_asks", "symbol", "price", "seq", postgresql_where=text(f"side = 'sell' AND {RESTING_SQL}")),
        Index("ix_orders_bids", "symbol", text("price DESC"), "seq",
              postgresql_where=text(f"side = 'buy' AND {RESTING_SQL}")),
        Index("ix_orders_stops", "symbol", "stop_price", postgresql_where=text("status = 'pending_trigger'")),
        Index("ix_orders_user_open", "user_id",
              postgresql_where=text("status IN ('pending_trigger', 'open', 'partially_filled')")),
        Index("ix_orders_user_id_seq", "user_id", "seq"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(10))
    tif: Mapped[str] = mapped_column(String(3))
    price: Mapped[Amount | None]
    stop_price: Mapped[Amount | None]
    quantity: Mapped[Amount]
    filled: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    quote_filled: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    fees: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    status: Mapped[str] = mapped_column(String(16))
    cancel_reason: Mapped[str | None] = mapped_column(String(16))
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    post_only: Mapped[bool] = mapped_column(Boolean, server_default="false", default=False)
    stp: Mapped[str] = mapped_column(String(16), server_default="cancel_newest", default="cancel_newest")
    hold_asset: Mapped[str] = mapped_column(ForeignKey("assets.code"))
    held: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    maker_fee_rate: Mapped[Amount]
    taker_fee_rate: Mapped[Amount]
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped()


class Trade(Base):
    """One fill between a resting (maker) and an incoming (taker) order; fees are in the quote asset."""

    __tablename__ = "trades"
    __table_args__ = (
        CheckConstraint("price > 0 AND quantity > 0 AND quote_quantity >= 0", name="amounts"),
        CheckConstraint("buyer_fee >= 0 AND seller_fee >= 0", name="fees"),
        CheckConstraint(f"taker_side IN {SIDES}", name="taker_side"),
        Index("ix_trades_symbol_id", "symbol", "id"),
        Index("ix_trades_buyer_id_id", "buyer_id", "id"),
        Index("ix_trades_seller_id_id", "seller_id", "id"),
        Index("ix_trades_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    price: Mapped[Amount]
    quantity: Mapped[Amount]
    quote_quantity: Mapped[Amount]
    taker_side: Mapped[str] = mapped_column(String(4))
    buy_order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    sell_order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    buyer_fee: Mapped[Amount]
    seller_fee: Mapped[Amount]
    # realised profit or loss this fill closed for each side (average cost), null when it only opened
    buyer_pnl: Mapped[Amount | None]
    seller_pnl: Mapped[Amount | None]
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[datetime] = stamped()


class Position(Base):
    """A user's net quantity in an instrument from their fills, at average cost."""

    __tablename__ = "positions"
    __table_args__ = (CheckConstraint("average_cost >= 0", name="average_cost"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True)
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"), primary_key=True)
    quantity: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    average_cost: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    realised_pnl: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    fees: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    volume: Mapped[Amount] = mapped_column(server_default="0", default=Decimal(0))
    updated_at: Mapped[datetime] = stamped()
