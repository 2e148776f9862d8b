"""Money: assets, the double-entry ledger, holds, idempotency keys, payments and FX rates.

The database enforces the books itself:
- a posting updates its account's cached balance in the same statement (trigger), refusing a
  posting whose asset is not the account's or whose amount has more decimals than the asset;
- a balance changes only through a posting (a direct UPDATE of ledger_accounts.balance is refused);
- user balances (cached on the account row) never go below zero (CHECK), nor does any amount
  hold NaN or infinity; platform accounts cache no balance, so they are no hot row;
- postings are insert-only, and at commit every journal entry sums to zero per asset
  (a deferred constraint trigger).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ASSETS = [
    ("USD", "US dollar", "fiat", 2), ("EUR", "Euro", "fiat", 2), ("GBP", "Pound sterling", "fiat", 2),
    ("JPY", "Japanese yen", "fiat", 0), ("VND", "Vietnamese dong", "fiat", 0),
    ("BTC", "Bitcoin", "crypto", 8), ("ETH", "Ether", "crypto", 18), ("USDT", "Tether USD", "crypto", 6),
]

TRIGGERS = """
CREATE FUNCTION postings_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    places smallint;
BEGIN
    SELECT a.precision INTO places FROM assets a WHERE a.code = NEW.asset;
    IF places IS NULL OR trunc(NEW.amount, places) <> NEW.amount THEN
        RAISE EXCEPTION 'posting amount % has more decimals than asset % allows', NEW.amount, NEW.asset
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_postings_precision';
    END IF;
    -- user accounts cache their balance (the CHECK keeps it >= 0); platform accounts cache none
    UPDATE ledger_accounts SET balance = balance + NEW.amount
        WHERE id = NEW.account_id AND asset = NEW.asset AND balance IS NOT NULL;
    IF NOT FOUND THEN
        PERFORM 1 FROM ledger_accounts WHERE id = NEW.account_id AND asset = NEW.asset AND balance IS NULL;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'posting asset % is not the asset of account %', NEW.asset, NEW.account_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_postings_asset';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER postings_apply AFTER INSERT ON postings FOR EACH ROW EXECUTE FUNCTION postings_apply();

CREATE FUNCTION postings_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'postings are insert-only: % refused; post a correcting entry instead', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER postings_no_update_delete BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION postings_insert_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION postings_insert_only();

CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    off record;
BEGIN
    SELECT asset, sum(amount) AS total INTO off FROM postings WHERE entry_id = NEW.entry_id
        GROUP BY asset HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance: % sums to %', NEW.entry_id, off.asset, off.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_journal_entries_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER journal_entry_balanced AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced();

CREATE FUNCTION ledger_balance_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- depth 1 is a statement from outside; the posting trigger's own UPDATE runs at depth 2
    IF NEW.balance IS DISTINCT FROM OLD.balance AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'balances change only through postings'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.owner_id IS DISTINCT FROM OLD.owner_id OR NEW.asset <> OLD.asset OR NEW.purpose <> OLD.purpose THEN
        RAISE EXCEPTION 'a ledger account keeps its owner, asset and purpose'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_balance_guard BEFORE UPDATE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_balance_guard();

CREATE FUNCTION ledger_accounts_new_empty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.balance IS NOT NULL AND NEW.balance <> 0 THEN
        RAISE EXCEPTION 'a ledger account starts empty' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_accounts_new_empty BEFORE INSERT ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_accounts_new_empty();
"""


def upgrade() -> None:
    op.create_table('assets',
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('precision', sa.SmallInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("code ~ '^[A-Z][A-Z0-9]{1,9}$'", name=op.f('ck_assets_code')),
    sa.CheckConstraint("kind IN ('fiat', 'crypto')", name=op.f('ck_assets_kind')),
    sa.CheckConstraint('precision BETWEEN 0 AND 18', name=op.f('ck_assets_precision')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_assets'))
    )
    op.create_table('journal_entries',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('reference_type', sa.String(length=32), nullable=True),
    sa.Column('reference_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries'))
    )
    op.create_index('ix_journal_entries_created_at', 'journal_entries', ['created_at'], unique=False)
    op.create_table('fx_rates',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('base', sa.String(length=10), nullable=False),
    sa.Column('quote', sa.String(length=10), nullable=False),
    sa.Column('rate', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("source IN ('admin', 'ecb')", name=op.f('ck_fx_rates_source')),
    sa.CheckConstraint('base <> quote', name=op.f('ck_fx_rates_distinct_assets')),
    sa.CheckConstraint('rate > 0 AND rate < 1e20', name=op.f('ck_fx_rates_rate')),
    sa.ForeignKeyConstraint(['base'], ['assets.code'], name=op.f('fk_fx_rates_base_assets')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_fx_rates_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['quote'], ['assets.code'], name=op.f('fk_fx_rates_quote_assets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fx_rates')),
    sa.UniqueConstraint('base', 'quote', 'as_of', 'source', name=op.f('uq_fx_rates_base_quote_as_of_source'))
    )
    op.create_index('ix_fx_rates_base_quote_as_of', 'fx_rates', ['base', 'quote', sa.literal_column('as_of DESC')], unique=False)
    op.create_table('holds',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('owner_id', sa.UUID(), nullable=False),
    sa.Column('asset', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('posted', sa.Numeric(precision=38, scale=18), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=8), server_default='pending', nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('reference_id', sa.UUID(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'pending') = (resolved_at IS NULL)", name=op.f('ck_holds_resolved')),
    sa.CheckConstraint("status IN ('pending', 'posted', 'voided', 'expired')", name=op.f('ck_holds_status')),
    sa.CheckConstraint('amount > 0 AND amount > -1e20 AND amount < 1e20', name=op.f('ck_holds_amount')),
    sa.CheckConstraint('posted >= 0 AND posted <= amount', name=op.f('ck_holds_posted')),
    sa.ForeignKeyConstraint(['asset'], ['assets.code'], name=op.f('fk_holds_asset_assets')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_holds_owner_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holds'))
    )
    op.create_index('ix_holds_owner_id_status', 'holds', ['owner_id', 'status'], unique=False)
    op.create_index('ix_holds_pending_expiry', 'holds', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_table('idempotency_keys',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('response', postgresql.JSONB(astext_type=Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('char_length(key) BETWEEN 1 AND 128', name=op.f('ck_idempotency_keys_key_length')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('ledger_accounts',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('owner_id', sa.UUID(), nullable=True),
    sa.Column('asset', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('balance', sa.Numeric(precision=38, scale=18), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(owner_id IS NULL) = (purpose IN ('fees', 'external', 'fx'))", name=op.f('ck_ledger_accounts_owner_purpose')),
    sa.CheckConstraint("purpose IN ('available', 'held', 'fees', 'external', 'fx')", name=op.f('ck_ledger_accounts_purpose')),
    sa.CheckConstraint('(owner_id IS NULL) = (balance IS NULL)', name=op.f('ck_ledger_accounts_cached_for_users')),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_ledger_accounts_not_negative')),
    sa.CheckConstraint('balance > -1e20 AND balance < 1e20', name=op.f('ck_ledger_accounts_balance_finite')),
    sa.ForeignKeyConstraint(['asset'], ['assets.code'], name=op.f('fk_ledger_accounts_asset_assets')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_ledger_accounts_owner_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('owner_id', 'asset', 'purpose', name=op.f('uq_ledger_accounts_owner_id_asset_purpose'), postgresql_nulls_not_distinct=True)
    )
    op.create_table('payments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('asset', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('gateway', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='pending', nullable=False),
    sa.Column('destination', sa.String(length=200), nullable=True),
    sa.Column('hold_id', sa.UUID(), nullable=True),
    sa.Column('entry_id', sa.UUID(), nullable=True),
    sa.Column('gateway_reference', sa.String(length=128), nullable=True),
    sa.Column('failure_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'withdrawal') = (hold_id IS NOT NULL)", name=op.f('ck_payments_withdrawal_hold')),
    sa.CheckConstraint("(status = 'completed') = (completed_at IS NOT NULL)", name=op.f('ck_payments_completed')),
    sa.CheckConstraint("kind IN ('deposit', 'withdrawal')", name=op.f('ck_payments_kind')),
    sa.CheckConstraint("status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')", name=op.f('ck_payments_status')),
    sa.CheckConstraint('amount > 0 AND amount < 1e20', name=op.f('ck_payments_amount')),
    sa.ForeignKeyConstraint(['asset'], ['assets.code'], name=op.f('fk_payments_asset_assets')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_payments_entry_id_journal_entries')),
    sa.ForeignKeyConstraint(['hold_id'], ['holds.id'], name=op.f('fk_payments_hold_id_holds')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payments_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments'))
    )
    op.create_index('ix_payments_open', 'payments', ['created_at'], unique=False, postgresql_where=sa.text("status IN ('pending', 'processing')"))
    op.create_index('ix_payments_user_id_created_at', 'payments', ['user_id', 'created_at'], unique=False)
    op.create_table('postings',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('entry_id', sa.UUID(), nullable=False),
    sa.Column('account_id', sa.UUID(), nullable=False),
    sa.Column('asset', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_postings_nonzero')),
    sa.CheckConstraint('amount > -1e20 AND amount < 1e20', name=op.f('ck_postings_amount_finite')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_postings_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_postings_entry_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postings'))
    )
    op.create_index('ix_postings_account_id_id', 'postings', ['account_id', 'id'], unique=False)
    op.create_index('ix_postings_entry_id', 'postings', ['entry_id'], unique=False)
    op.bulk_insert(
        sa.table("assets", sa.column("code", sa.String), sa.column("name", sa.String),
                 sa.column("kind", sa.String), sa.column("precision", sa.SmallInteger)),
        [{"code": c, "name": n, "kind": k, "precision": p} for c, n, k, p in ASSETS],
    )
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_accounts_new_empty ON ledger_accounts")
    op.execute("DROP TRIGGER IF EXISTS ledger_balance_guard ON ledger_accounts")
    op.execute("DROP TRIGGER IF EXISTS journal_entry_balanced ON postings")
    op.execute("DROP TRIGGER IF EXISTS postings_no_truncate ON postings")
    op.execute("DROP TRIGGER IF EXISTS postings_no_update_delete ON postings")
    op.execute("DROP TRIGGER IF EXISTS postings_apply ON postings")
    op.drop_index('ix_postings_entry_id', table_name='postings')
    op.drop_index('ix_postings_account_id_id', table_name='postings')
    op.drop_table('postings')
    op.drop_index('ix_payments_user_id_created_at', table_name='payments')
    op.drop_index('ix_payments_open', table_name='payments', postgresql_where=sa.text("status IN ('pending', 'processing')"))
    op.drop_table('payments')
    op.drop_table('ledger_accounts')
    op.drop_table('idempotency_keys')
    op.drop_index('ix_holds_pending_expiry', table_name='holds', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_holds_owner_id_status', table_name='holds')
    op.drop_table('holds')
    op.drop_index('ix_fx_rates_base_quote_as_of', table_name='fx_rates')
    op.drop_table('fx_rates')
    op.drop_index('ix_journal_entries_created_at', table_name='journal_entries')
    op.drop_table('journal_entries')
    op.drop_table('assets')
    for fn in ("ledger_accounts_new_empty", "ledger_balance_guard", "journal_entry_balanced",
               "postings_insert_only", "postings_apply"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
