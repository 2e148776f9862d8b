"""Portfolio: holdings a user records from outside the platform.

The database refuses a quantity that is not positive (quantity 0 deletes the record), a negative
average cost and a symbol that is not a market symbol (the candles' pattern, so an external
holding can be priced from imported candles).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('external_holdings',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('symbol', sa.String(length=24), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('average_cost', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=10), server_default='USD', nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("symbol ~ '^[A-Z0-9][A-Z0-9.\\-]{0,23}$'", name=op.f('ck_external_holdings_symbol')),
    sa.CheckConstraint('quantity > 0 AND quantity < 1e20', name=op.f('ck_external_holdings_quantity')),
    sa.CheckConstraint('average_cost >= 0 AND average_cost < 1e20', name=op.f('ck_external_holdings_average_cost')),
    sa.CheckConstraint('note IS NULL OR char_length(note) <= 200', name=op.f('ck_external_holdings_note_length')),
    sa.ForeignKeyConstraint(['currency'], ['assets.code'], name=op.f('fk_external_holdings_currency_assets')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_external_holdings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'symbol', name=op.f('pk_external_holdings'))
    )


def downgrade() -> None:
    op.drop_table('external_holdings')
