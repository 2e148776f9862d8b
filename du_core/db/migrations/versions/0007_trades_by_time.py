"""Trades by time: an index on `trades (created_at)` for the platform's last-24-hours figures.

The admin dashboard sums the trades of the last 24 hours by quote currency; without this index
that read scans every trade ever made. The exchange pays one more index entry per trade for it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_trades_created_at', 'trades', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_trades_created_at', table_name='trades')
