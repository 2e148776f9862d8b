"""Market data: OHLCV candles of every interval, and the feeds that fill them.

Candles are keyed by (symbol, interval, start) and the primary key is the index every read uses:
a symbol's candles of one interval in time order. The symbol is any market symbol (imported
stocks too), so it references no instrument. The database refuses a candle whose high is below
its open, close or low, a price that is not positive, or a negative volume.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('candles',
    sa.Column('symbol', sa.String(length=24), nullable=False),
    sa.Column('interval', sa.String(length=3), nullable=False),
    sa.Column('start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('open', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('high', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('low', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('close', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('volume', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('quote_volume', sa.Numeric(precision=38, scale=18), nullable=True),
    sa.Column('trades', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.CheckConstraint("source IN ('trades', 'import')", name=op.f('ck_candles_source')),
    sa.CheckConstraint("symbol ~ '^[A-Z0-9][A-Z0-9.\\-]{0,23}$'", name=op.f('ck_candles_symbol')),
    sa.CheckConstraint('"interval" IN (\'1m\', \'5m\', \'15m\', \'1h\', \'4h\', \'1d\')', name=op.f('ck_candles_interval')),
    sa.CheckConstraint('high >= low AND high >= greatest(open, close) AND low <= least(open, close)', name=op.f('ck_candles_high_low')),
    sa.CheckConstraint('open > 0 AND high > 0 AND low > 0 AND close > 0 AND high < 1e20', name=op.f('ck_candles_prices')),
    sa.CheckConstraint('trades IS NULL OR trades >= 0', name=op.f('ck_candles_trades')),
    sa.CheckConstraint('volume >= 0 AND volume < 1e20 AND (quote_volume IS NULL OR quote_volume >= 0)', name=op.f('ck_candles_volume')),
    sa.PrimaryKeyConstraint('symbol', 'interval', 'start', name=op.f('pk_candles'))
    )
    op.create_table('market_feeds',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('symbol', sa.String(length=24), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('interval', sa.String(length=3), nullable=True),
    sa.Column('rows', sa.Integer(), server_default='0', nullable=False),
    sa.Column('first_candle_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_candle_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('internal', 'import', 'external')", name=op.f('ck_market_feeds_kind')),
    sa.CheckConstraint("status IN ('ok', 'failed')", name=op.f('ck_market_feeds_status')),
    sa.CheckConstraint('"interval" IS NULL OR "interval" IN (\'1m\', \'5m\', \'15m\', \'1h\', \'4h\', \'1d\')', name=op.f('ck_market_feeds_interval')),
    sa.CheckConstraint('rows >= 0', name=op.f('ck_market_feeds_rows')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_market_feeds'))
    )


def downgrade() -> None:
    for table in ("market_feeds", "candles"):
        op.drop_table(table)
