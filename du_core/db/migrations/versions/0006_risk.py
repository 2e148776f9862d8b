"""Risk: the history of each user's status against each risk limit (`risk_alerts`).

A row is written by monitoring only when a limit's status changes, so the table stays small: an
index on (user, limit, newest first) answers "what was the last status of this limit" with one
probe, and one on (user, newest first) lists the history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('risk_alerts',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('limit_name', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('value', sa.Numeric(precision=38, scale=18), nullable=True),
    sa.Column('limit_value', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('ok', 'warn', 'breach')", name=op.f('ck_risk_alerts_status')),
    sa.CheckConstraint("limit_name ~ '^[a-z][a-z0-9_]{0,31}$'", name=op.f('ck_risk_alerts_limit_name')),
    sa.CheckConstraint('value IS NULL OR (value > -1e20 AND value < 1e20)', name=op.f('ck_risk_alerts_value')),
    sa.CheckConstraint('limit_value >= 0 AND limit_value < 1e20', name=op.f('ck_risk_alerts_limit_value')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_risk_alerts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_alerts'))
    )
    op.create_index('ix_risk_alerts_user_id_limit_name_created_at', 'risk_alerts',
                    ['user_id', 'limit_name', sa.text('created_at DESC')], unique=False)
    op.create_index('ix_risk_alerts_user_id_created_at', 'risk_alerts', ['user_id', sa.text('created_at DESC')],
                    unique=False)


def downgrade() -> None:
    op.drop_table('risk_alerts')
