"""The foundation: users, profiles, sessions, tokens, throttling, client data, settings,
notifications and the append-only, hash-chained audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AUDIT_CHAINS = 16
GENESIS = hashlib.sha256(b"digital-utopia audit genesis").digest()


def upgrade() -> None:
    op.create_table('audit_chains',
    sa.Column('chain', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.LargeBinary(length=32), nullable=False),
    sa.CheckConstraint('seq >= 0', name=op.f('ck_audit_chains_seq')),
    sa.PrimaryKeyConstraint('chain', name=op.f('pk_audit_chains'))
    )
    op.create_table('audit_trails',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('chain', sa.SmallInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('actor_role', sa.String(length=16), nullable=True),
    sa.Column('client', sa.String(length=32), nullable=True),
    sa.Column('profile', sa.String(length=64), nullable=True),
    sa.Column('device', sa.String(length=128), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('old_values', postgresql.JSONB(astext_type=Text()), nullable=True),
    sa.Column('new_values', postgresql.JSONB(astext_type=Text()), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=Text()), nullable=True),
    sa.Column('prev_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.CheckConstraint("outcome IN ('success', 'denied', 'failed')", name=op.f('ck_audit_trails_outcome')),
    sa.CheckConstraint('seq > 0', name=op.f('ck_audit_trails_seq')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_trails')),
    sa.UniqueConstraint('chain', 'seq', name=op.f('uq_audit_trails_chain_seq'))
    )
    op.create_index('ix_audit_trails_action_occurred_at', 'audit_trails', ['action', 'occurred_at'], unique=False)
    op.create_index('ix_audit_trails_actor_id_occurred_at', 'audit_trails', ['actor_id', 'occurred_at'], unique=False)
    op.create_index('ix_audit_trails_occurred_at', 'audit_trails', ['occurred_at'], unique=False)
    op.create_index('ix_audit_trails_target_id_occurred_at', 'audit_trails', ['target_id', 'occurred_at'], unique=False)
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('failures >= 0', name=op.f('ck_login_throttle_failures')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )
    op.create_table('users',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('role', sa.String(length=16), server_default='guest', nullable=False),
    sa.Column('permissions', postgresql.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('kyc_level', sa.Integer(), server_default='0', nullable=False),
    sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('phone_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('mfa_secret', sa.String(length=64), nullable=True),
    sa.Column('mfa_enabled', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('mfa_last_step', sa.Integer(), nullable=True),
    sa.Column('referral_code', sa.String(length=32), nullable=True),
    sa.Column('referred_by', sa.UUID(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_users_phone_e164')),
    sa.CheckConstraint("role IN ('guest', 'read_only', 'standard', 'premium', 'staff', 'compliance', 'admin')", name=op.f('ck_users_role')),
    sa.CheckConstraint("status IN ('active', 'suspended', 'closed')", name=op.f('ck_users_status')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_users_email_lower')),
    sa.CheckConstraint('kyc_level BETWEEN 0 AND 3', name=op.f('ck_users_kyc_level')),
    sa.ForeignKeyConstraint(['referred_by'], ['users.id'], name=op.f('fk_users_referred_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    sa.UniqueConstraint('phone', name=op.f('uq_users_phone')),
    sa.UniqueConstraint('referral_code', name=op.f('uq_users_referral_code'))
    )
    op.create_index('ix_users_created_at', 'users', ['created_at'], unique=False)
    op.create_index('ix_users_role', 'users', ['role'], unique=False, postgresql_where=sa.text("role <> 'guest'"))
    op.create_index('ix_users_status_created_at', 'users', ['status', 'created_at'], unique=False)
    op.create_table('auth_sessions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('family_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('access_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('refresh_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('access_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('refresh_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=32), nullable=True),
    sa.Column('client', sa.String(length=32), nullable=True),
    sa.Column('profile', sa.String(length=64), nullable=True),
    sa.Column('device', sa.String(length=128), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    sa.UniqueConstraint('access_hash', name=op.f('uq_auth_sessions_access_hash')),
    sa.UniqueConstraint('refresh_hash', name=op.f('uq_auth_sessions_refresh_hash'))
    )
    op.create_index('ix_auth_sessions_active_user', 'auth_sessions', ['user_id'], unique=False, postgresql_where=sa.text('revoked_at IS NULL'))
    op.create_index('ix_auth_sessions_family_id', 'auth_sessions', ['family_id'], unique=False)
    op.create_index('ix_auth_sessions_user_id_created_at', 'auth_sessions', ['user_id', 'created_at'], unique=False)
    op.create_table('auth_tokens',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("purpose IN ('verify_email', 'verify_phone', 'password_reset')", name=op.f('ck_auth_tokens_purpose')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_auth_tokens_attempts')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_tokens_token_hash'))
    )
    op.create_index('ix_auth_tokens_user_id_purpose', 'auth_tokens', ['user_id', 'purpose'], unique=False)
    op.create_table('client_preferences',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('trading_style', sa.String(length=16), nullable=True),
    sa.Column('risk_tolerance', sa.String(length=8), nullable=True),
    sa.Column('experience', sa.String(length=16), nullable=True),
    sa.Column('investment_goals', postgresql.ARRAY(sa.String(length=16)), server_default='{}', nullable=False),
    sa.Column('horizon_years', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("experience IS NULL OR experience IN ('none', 'beginner', 'intermediate', 'expert')", name=op.f('ck_client_preferences_experience')),
    sa.CheckConstraint("investment_goals <@ ARRAY['growth', 'income', 'preservation', 'speculation', 'retirement', 'hedging']::varchar[]", name=op.f('ck_client_preferences_goals')),
    sa.CheckConstraint("risk_tolerance IS NULL OR risk_tolerance IN ('low', 'medium', 'high')", name=op.f('ck_client_preferences_risk_tolerance')),
    sa.CheckConstraint("trading_style IS NULL OR trading_style IN ('long_term', 'swing', 'day', 'scalping', 'passive')", name=op.f('ck_client_preferences_trading_style')),
    sa.CheckConstraint('horizon_years IS NULL OR horizon_years BETWEEN 0 AND 100', name=op.f('ck_client_preferences_horizon')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_client_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_client_preferences'))
    )
    op.create_table('client_settings',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('language', sa.String(length=8), server_default='en', nullable=False),
    sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('notify_email', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('notify_sms', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('notify_trades', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('notify_price_alerts', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('notify_marketing', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("language IN ('en', 'vi', 'fr', 'de', 'es', 'ja', 'zh')", name=op.f('ck_client_settings_language')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_client_settings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_client_settings'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=8), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f('ck_notifications_channel')),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f('ck_notifications_status')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    op.create_index('ix_notifications_pending', 'notifications', ['created_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_notifications_user_id_created_at', 'notifications', ['user_id', 'created_at'], unique=False)
    op.create_table('onboarding_steps',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("step IN ('email_verified', 'phone_verified', 'profile_completed', 'preferences_set', 'risk_disclosure_accepted', 'terms_accepted', 'kyc_submitted', 'first_deposit')", name=op.f('ck_onboarding_steps_step')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_onboarding_steps_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'step', name=op.f('pk_onboarding_steps'))
    )
    op.create_table('platform_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_by', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_platform_settings_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_platform_settings'))
    )
    op.create_table('user_profiles',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('nationality', sa.String(length=2), nullable=False),
    sa.Column('address_line', sa.String(length=200), nullable=True),
    sa.Column('city', sa.String(length=100), nullable=True),
    sa.Column('postal_code', sa.String(length=20), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('occupation', sa.String(length=100), nullable=True),
    sa.Column('base_currency', sa.String(length=5), server_default='USD', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("base_currency ~ '^[A-Z]{3,5}$'", name=op.f('ck_user_profiles_base_currency')),
    sa.CheckConstraint("nationality ~ '^[A-Z]{2}$'", name=op.f('ck_user_profiles_nationality_alpha2')),
    sa.CheckConstraint('char_length(full_name) BETWEEN 1 AND 200', name=op.f('ck_user_profiles_full_name_length')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_profiles'))
    )
    # The audit trail is append-only: the database itself refuses to change or remove a row.
    op.execute("""
        CREATE FUNCTION audit_trails_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_trails is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER audit_trails_no_update_delete BEFORE UPDATE OR DELETE ON audit_trails
        FOR EACH ROW EXECUTE FUNCTION audit_trails_append_only();
    """)
    op.execute("""
        CREATE TRIGGER audit_trails_no_truncate BEFORE TRUNCATE ON audit_trails
        FOR EACH STATEMENT EXECUTE FUNCTION audit_trails_append_only();
    """)
    op.bulk_insert(
        sa.table("audit_chains", sa.column("chain", sa.SmallInteger), sa.column("seq", sa.BigInteger),
                 sa.column("head_hash", sa.LargeBinary)),
        [{"chain": c, "seq": 0, "head_hash": GENESIS} for c in range(AUDIT_CHAINS)],
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_trails_no_truncate ON audit_trails")
    op.execute("DROP TRIGGER IF EXISTS audit_trails_no_update_delete ON audit_trails")
    op.drop_table('user_profiles')
    op.drop_table('platform_settings')
    op.drop_table('onboarding_steps')
    op.drop_index('ix_notifications_user_id_created_at', table_name='notifications')
    op.drop_index('ix_notifications_pending', table_name='notifications', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('notifications')
    op.drop_table('client_settings')
    op.drop_table('client_preferences')
    op.drop_index('ix_auth_tokens_user_id_purpose', table_name='auth_tokens')
    op.drop_table('auth_tokens')
    op.drop_index('ix_auth_sessions_user_id_created_at', table_name='auth_sessions')
    op.drop_index('ix_auth_sessions_family_id', table_name='auth_sessions')
    op.drop_index('ix_auth_sessions_active_user', table_name='auth_sessions', postgresql_where=sa.text('revoked_at IS NULL'))
    op.drop_table('auth_sessions')
    op.drop_index('ix_users_status_created_at', table_name='users')
    op.drop_index('ix_users_role', table_name='users', postgresql_where=sa.text("role <> 'guest'"))
    op.drop_index('ix_users_created_at', table_name='users')
    op.drop_table('users')
    op.drop_table('login_throttle')
    op.drop_index('ix_audit_trails_target_id_occurred_at', table_name='audit_trails')
    op.drop_index('ix_audit_trails_occurred_at', table_name='audit_trails')
    op.drop_index('ix_audit_trails_actor_id_occurred_at', table_name='audit_trails')
    op.drop_index('ix_audit_trails_action_occurred_at', table_name='audit_trails')
    op.drop_table('audit_trails')
    op.drop_table('audit_chains')
    op.execute("DROP FUNCTION IF EXISTS audit_trails_append_only()")
