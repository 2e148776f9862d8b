"""The books on a real database: balanced entries, no overdraft, holds resolved once, and the
database refusing what the code would never do."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from du_core.errors import InsufficientFunds, InvalidInput, InvalidState
from du_core.ledger import book
from du_core.ledger.book import Leg

D = Decimal


@pytest.fixture
def owner(engine):
    uid = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, phone, password_hash) VALUES (:id, :e, '+84912345678', 'x')"),
                     {"id": uid, "e": f"{uid.hex[:8]}@example.com"})
    return uid


def deposit(session, owner, amount, asset="USD"):
    return book.post(session, kind="deposit", legs=[Leg(owner, asset, "available", D(amount)),
                                                   Leg(None, asset, "external", -D(amount))])


def test_a_deposit_is_a_balanced_entry_and_updates_the_cached_balance(engine, owner):
    with Session(engine) as s, s.begin():
        deposit(s, owner, "100.00")
    with Session(engine) as s:
        assert book.balances(s, owner) == {"USD": {"available": D("100.00"), "held": D(0)}}
        assert book.verify(s).ok


def test_an_overdraft_is_refused_and_writes_nothing(engine, owner):
    with Session(engine) as s, s.begin():
        deposit(s, owner, "10.00")
    with pytest.raises(InsufficientFunds) as err, Session(engine) as s, s.begin():
        book.post(s, kind="withdrawal", legs=[Leg(owner, "USD", "available", D("-10.01")),
                                              Leg(None, "USD", "external", D("10.01"))])
    assert err.value.details["balance"] == "10.000000000000000000"
    with Session(engine) as s:
        assert book.balances(s, owner)["USD"]["available"] == D("10.00")


def test_unbalanced_legs_are_refused_by_the_code(engine, owner):
    with pytest.raises(InvalidInput), Session(engine) as s, s.begin():
        book.post(s, kind="x", legs=[Leg(owner, "USD", "available", D(1)), Leg(None, "USD", "external", D(-2))])


def test_hold_post_in_part_releases_the_rest_and_resolves_once(engine, owner):
    with Session(engine) as s, s.begin():
        deposit(s, owner, "50.00")
        hold_id = book.place_hold(s, owner_id=owner, asset="USD", amount=D("20.00"), reason="withdrawal").id
    with Session(engine) as s, s.begin():
        assert book.balances(s, owner)["USD"] == {"available": D("30.00"), "held": D("20.00")}
        book.post_hold(s, hold_id, amount=D("15.00"), to=Leg(None, "USD", "external", D(0)), kind="withdrawal")
    with Session(engine) as s, s.begin():
        assert book.balances(s, owner)["USD"] == {"available": D("35.00"), "held": D(0)}
        with pytest.raises(InvalidState):
            book.void_hold(s, hold_id)
    with Session(engine) as s:
        assert book.verify(s).ok


def test_expired_holds_are_released(engine, owner):
    from datetime import timedelta

    with Session(engine) as s, s.begin():
        deposit(s, owner, "5.00")
        hold_id = book.place_hold(s, owner_id=owner, asset="USD", amount=D("5.00"), reason="order",
                                  expires_at=book.now() - timedelta(seconds=1)).id
    with Session(engine) as s, s.begin():
        assert book.expire_holds(s) == [hold_id]
    with Session(engine) as s:
        assert book.balances(s, owner)["USD"]["available"] == D("5.00")
        assert book.verify(s).ok


def _sql(engine, sql, **params):
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def test_the_database_refuses_an_unbalanced_entry(engine, owner):
    with Session(engine) as s, s.begin():
        deposit(s, owner, "1.00")
        account = s.execute(text("SELECT id FROM ledger_accounts WHERE owner_id = :o"), {"o": owner}).scalar()
    with pytest.raises(DBAPIError, match="does not balance"):
        _sql(engine, "WITH e AS (INSERT INTO journal_entries (id, kind) VALUES (gen_random_uuid(), 'x') RETURNING id)"
                     " INSERT INTO postings (entry_id, account_id, asset, amount) SELECT id, :a, 'USD', 5 FROM e",
             a=account)


@pytest.mark.parametrize("value", ["'NaN'", "'Infinity'", "-1", "0", "0.001"])
def test_the_database_refuses_nan_infinity_negative_balances_and_extra_decimals(engine, owner, value):
    with Session(engine) as s, s.begin():
        deposit(s, owner, "0.50")
        account = s.execute(text("SELECT id FROM ledger_accounts WHERE owner_id = :o"), {"o": owner}).scalar()
        external = s.execute(text("SELECT id FROM ledger_accounts WHERE owner_id IS NULL")).scalar()
    with pytest.raises(DBAPIError):
        _sql(engine, "WITH e AS (INSERT INTO journal_entries (id, kind) VALUES (gen_random_uuid(), 'x') RETURNING id)"
                     f" INSERT INTO postings (entry_id, account_id, asset, amount) SELECT id, :a, 'USD', {value} FROM e"
                     f" UNION ALL SELECT id, :x, 'USD', -({value}) FROM e", a=account, x=external)


def test_postings_are_insert_only_and_balances_change_only_through_them(engine, owner):
    with Session(engine) as s, s.begin():
        deposit(s, owner, "1.00")
    for sql in ("UPDATE postings SET amount = 2", "DELETE FROM postings", "TRUNCATE postings CASCADE",
                "UPDATE ledger_accounts SET balance = 1000 WHERE owner_id IS NOT NULL"):
        with pytest.raises(DBAPIError):
            _sql(engine, sql)


def test_a_posting_in_another_asset_than_its_account_is_refused(engine, owner):
    with Session(engine) as s, s.begin():
        deposit(s, owner, "1.00")
        account = s.execute(text("SELECT id FROM ledger_accounts WHERE owner_id = :o"), {"o": owner}).scalar()
    with pytest.raises(DBAPIError, match="not the asset"):
        _sql(engine, "WITH e AS (INSERT INTO journal_entries (id, kind) VALUES (gen_random_uuid(), 'x') RETURNING id)"
                     " INSERT INTO postings (entry_id, account_id, asset, amount) SELECT id, :a, 'EUR', 1 FROM e",
             a=account)


def test_verify_reports_drift_when_a_balance_is_changed_behind_the_books(engine, owner):
    with Session(engine) as s, s.begin():
        deposit(s, owner, "3.00")
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE ledger_accounts DISABLE TRIGGER ledger_balance_guard"))
        conn.execute(text("UPDATE ledger_accounts SET balance = 4 WHERE owner_id IS NOT NULL"))
        conn.execute(text("ALTER TABLE ledger_accounts ENABLE TRIGGER ledger_balance_guard"))
    with Session(engine) as s:
        result = book.verify(s)
    assert [(d.cached, d.from_postings) for d in result.drift] == [(D(4), D(3))]
