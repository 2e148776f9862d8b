"""The exchange: instruments and their rules, orders, trades and positions.

The database enforces what must never happen whatever the code does: an order filling more than
its quantity, a finished order still holding money, a filled order that is not complete, a
repeated client order id. The book is read through two partial indexes holding only resting
orders, in price-time order for each side.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# symbol, base, quote, tick size, lot size, min quantity, max quantity, min notional
INSTRUMENTS = [
    ("BTC-USD", "BTC", "USD", "0.01", "0.0001", "0.0001", "1000", "10"),
    ("ETH-USD", "ETH", "USD", "0.01", "0.001", "0.001", "10000", "10"),
    ("ETH-BTC", "ETH", "BTC", "0.00001", "0.001", "0.001", "10000", "0.0001"),
]


def upgrade() -> None:
    op.create_table('instruments',
    sa.Column('symbol', sa.String(length=21), nullable=False),
    sa.Column('base', sa.String(length=10), nullable=False),
    sa.Column('quote', sa.String(length=10), nullable=False),
    sa.Column('tick_size', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('lot_size', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('min_quantity', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('max_quantity', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('min_notional', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('price_band', sa.Numeric(precision=38, scale=18), server_default='0.05', nullable=False),
    sa.Column('status', sa.String(length=8), server_default='trading', nullable=False),
    sa.Column('book_seq', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_price', sa.Numeric(precision=38, scale=18), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('trading', 'halted')", name=op.f('ck_instruments_status')),
    sa.CheckConstraint("symbol ~ '^[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}$'", name=op.f('ck_instruments_symbol')),
    sa.CheckConstraint('base <> quote', name=op.f('ck_instruments_distinct_assets')),
    sa.CheckConstraint('max_quantity >= min_quantity AND max_quantity > -1e20 AND max_quantity < 1e20', name=op.f('ck_instruments_max_quantity')),
    sa.CheckConstraint('price_band > 0 AND price_band < 1', name=op.f('ck_instruments_price_band')),
    sa.CheckConstraint('tick_size > 0 AND lot_size > 0 AND min_quantity > 0 AND min_notional >= 0', name=op.f('ck_instruments_rules')),
    sa.ForeignKeyConstraint(['base'], ['assets.code'], name=op.f('fk_instruments_base_assets')),
    sa.ForeignKeyConstraint(['quote'], ['assets.code'], name=op.f('fk_instruments_quote_assets')),
    sa.PrimaryKeyConstraint('symbol', name=op.f('pk_instruments'))
    )
    op.create_table('orders',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('symbol', sa.String(length=21), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.Column('tif', sa.String(length=3), nullable=False),
    sa.Column('price', sa.Numeric(precision=38, scale=18), nullable=True),
    sa.Column('stop_price', sa.Numeric(precision=38, scale=18), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('filled', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('quote_filled', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('fees', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cancel_reason', sa.String(length=16), nullable=True),
    sa.Column('client_order_id', sa.String(length=64), nullable=True),
    sa.Column('post_only', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('stp', sa.String(length=16), server_default='cancel_newest', nullable=False),
    sa.Column('hold_asset', sa.String(length=10), nullable=False),
    sa.Column('held', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('maker_fee_rate', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('taker_fee_rate', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'filled') = (filled = quantity)", name=op.f('ck_orders_filled_status')),
    sa.CheckConstraint("(type IN ('limit', 'stop_limit')) = (price IS NOT NULL)", name=op.f('ck_orders_limit_price')),
    sa.CheckConstraint("(type IN ('stop', 'stop_limit')) = (stop_price IS NOT NULL)", name=op.f('ck_orders_stop_has_price')),
    sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f('ck_orders_side')),
    sa.CheckConstraint("status IN ('pending_trigger', 'open', 'partially_filled', 'filled', 'cancelled')", name=op.f('ck_orders_status')),
    sa.CheckConstraint("status NOT IN ('filled', 'cancelled') OR held = 0", name=op.f('ck_orders_finished_holds_nothing')),
    sa.CheckConstraint("stp IN ('cancel_newest', 'cancel_oldest', 'cancel_both')", name=op.f('ck_orders_stp')),
    sa.CheckConstraint("tif IN ('gtc', 'ioc', 'fok')", name=op.f('ck_orders_tif')),
    sa.CheckConstraint("type IN ('market', 'limit', 'stop', 'stop_limit')", name=op.f('ck_orders_type')),
    sa.CheckConstraint('filled >= 0 AND filled <= quantity', name=op.f('ck_orders_filled')),
    sa.CheckConstraint('held >= 0', name=op.f('ck_orders_held')),
    sa.CheckConstraint('price IS NULL OR (price > 0 AND price > -1e20 AND price < 1e20)', name=op.f('ck_orders_price')),
    sa.CheckConstraint('quantity > 0 AND quantity > -1e20 AND quantity < 1e20', name=op.f('ck_orders_quantity')),
    sa.CheckConstraint('quote_filled >= 0 AND fees >= 0', name=op.f('ck_orders_totals')),
    sa.CheckConstraint('stop_price IS NULL OR (stop_price > 0 AND stop_price > -1e20 AND stop_price < 1e20)', name=op.f('ck_orders_stop_price')),
    sa.ForeignKeyConstraint(['hold_asset'], ['assets.code'], name=op.f('fk_orders_hold_asset_assets')),
    sa.ForeignKeyConstraint(['symbol'], ['instruments.symbol'], name=op.f('fk_orders_symbol_instruments')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_orders_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('seq', name=op.f('uq_orders_seq')),
    sa.UniqueConstraint('user_id', 'client_order_id', name=op.f('uq_orders_user_id_client_order_id'))
    )
    op.create_index('ix_orders_asks', 'orders', ['symbol', 'price', 'seq'], unique=False, postgresql_where=sa.text("side = 'sell' AND status IN ('open', 'partially_filled')"))
    op.create_index('ix_orders_bids', 'orders', ['symbol', sa.literal_column('price DESC'), 'seq'], unique=False, postgresql_where=sa.text("side = 'buy' AND status IN ('open', 'partially_filled')"))
    op.create_index('ix_orders_stops', 'orders', ['symbol', 'stop_price'], unique=False, postgresql_where=sa.text("status = 'pending_trigger'"))
    op.create_index('ix_orders_user_id_seq', 'orders', ['user_id', 'seq'], unique=False)
    op.create_index('ix_orders_user_open', 'orders', ['user_id'], unique=False, postgresql_where=sa.text("status IN ('pending_trigger', 'open', 'partially_filled')"))
    op.create_table('positions',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('symbol', sa.String(length=21), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('average_cost', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('realised_pnl', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('fees', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('volume', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('average_cost >= 0', name=op.f('ck_positions_average_cost')),
    sa.ForeignKeyConstraint(['symbol'], ['instruments.symbol'], name=op.f('fk_positions_symbol_instruments')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_positions_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('user_id', 'symbol', name=op.f('pk_positions'))
    )
    op.create_table('trades',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('symbol', sa.String(length=21), nullable=False),
    sa.Column('price', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('quote_quantity', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('taker_side', sa.String(length=4), nullable=False),
    sa.Column('buy_order_id', sa.UUID(), nullable=False),
    sa.Column('sell_order_id', sa.UUID(), nullable=False),
    sa.Column('buyer_id', sa.UUID(), nullable=False),
    sa.Column('seller_id', sa.UUID(), nullable=False),
    sa.Column('buyer_fee', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('seller_fee', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('buyer_pnl', sa.Numeric(precision=38, scale=18), nullable=True),
    sa.Column('seller_pnl', sa.Numeric(precision=38, scale=18), nullable=True),
    sa.Column('entry_id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("taker_side IN ('buy', 'sell')", name=op.f('ck_trades_taker_side')),
    sa.CheckConstraint('buyer_fee >= 0 AND seller_fee >= 0', name=op.f('ck_trades_fees')),
    sa.CheckConstraint('price > 0 AND quantity > 0 AND quote_quantity >= 0', name=op.f('ck_trades_amounts')),
    sa.ForeignKeyConstraint(['buy_order_id'], ['orders.id'], name=op.f('fk_trades_buy_order_id_orders')),
    sa.ForeignKeyConstraint(['buyer_id'], ['users.id'], name=op.f('fk_trades_buyer_id_users')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_trades_entry_id_journal_entries')),
    sa.ForeignKeyConstraint(['sell_order_id'], ['orders.id'], name=op.f('fk_trades_sell_order_id_orders')),
    sa.ForeignKeyConstraint(['seller_id'], ['users.id'], name=op.f('fk_trades_seller_id_users')),
    sa.ForeignKeyConstraint(['symbol'], ['instruments.symbol'], name=op.f('fk_trades_symbol_instruments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trades'))
    )
    op.create_index('ix_trades_buyer_id_id', 'trades', ['buyer_id', 'id'], unique=False)
    op.create_index('ix_trades_seller_id_id', 'trades', ['seller_id', 'id'], unique=False)
    op.create_index('ix_trades_symbol_id', 'trades', ['symbol', 'id'], unique=False)
    instruments = sa.table("instruments", sa.column("symbol"), sa.column("base"), sa.column("quote"),
                           sa.column("tick_size"), sa.column("lot_size"), sa.column("min_quantity"),
                           sa.column("max_quantity"), sa.column("min_notional"))
    op.bulk_insert(instruments, [dict(zip(("symbol", "base", "quote", "tick_size", "lot_size", "min_quantity",
                                           "max_quantity", "min_notional"), row)) for row in INSTRUMENTS])


def downgrade() -> None:
    for table in ("positions", "trades", "orders", "instruments"):
        op.drop_table(table)
