"""Administering the books on a real database: verify finds and names every kind of damage,
expired holds are released once and audited, and admins add assets the books then honour."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from du_core.actor import Actor, Role
from du_core.db.runner import run
from du_core.errors import Duplicate, InvalidInput, InvalidState, LedgerDrift, PermissionDenied
from du_core.ledger import book, service
from du_core.ledger.book import Leg
from du_core.ledger.schemas import AddAsset, ExpireHolds
from du_core.validation import parse

D = Decimal


def new_user(engine, email: str, role: str = "standard") -> uuid.UUID:
    uid = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, phone, password_hash, role) VALUES (:id, :e, :p, 'x', :r)"),
                     {"id": uid, "e": email, "p": f"+8491{uid.int % 10_000_000:07d}", "r": role})
    return uid


@pytest.fixture
def admin(engine) -> Actor:
    return Actor(user_id=new_user(engine, "root@example.com", "admin"), role=Role.admin)


@pytest.fixture
def hoa(engine) -> uuid.UUID:
    return new_user(engine, "hoa@example.com")


def deposit(engine, owner: uuid.UUID, amount: str, asset: str = "USD") -> None:
    with Session(engine) as s, s.begin():
        book.post(s, kind="deposit", legs=[Leg(owner, asset, "available", D(amount)),
                                          Leg(None, asset, "external", -D(amount))])


def hold(engine, owner: uuid.UUID, amount: str, *, expires_in: timedelta | None = None) -> uuid.UUID:
    with Session(engine) as s, s.begin():
        return book.place_hold(s, owner_id=owner, asset="USD", amount=D(amount), reason="withdrawal",
                               expires_at=book.now() + expires_in if expires_in is not None else None).id


def behind_the_back(engine, statement: str, **params) -> None:
    """Run SQL as the database owner with triggers off, as an intruder with that power could."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(statement), params)


def verify(engine, admin):
    return run(engine, service.ledger_verify, actor=admin)


def audit(engine, action: str) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT actor_id, target_type, target_id, new_values, details FROM audit_trails"
                                 " WHERE action = :a"), {"a": action}).all()


# verify


def test_books_in_order_verify_ok_with_every_account_and_posting_counted(engine, admin, hoa):
    deposit(engine, hoa, "100.00")
    deposit(engine, hoa, "0.5", "BTC")
    hold(engine, hoa, "30.00")
    report = verify(engine, admin)
    assert report.ok
    # hoa: USD available + held, BTC available; the platform: USD and BTC external
    assert (report.accounts, report.postings) == (5, 6)
    assert (report.drift, report.unbalanced_entries, report.orphaned_holds) == ([], [], [])
    service.ensure_balanced(report)  # raises nothing


def test_verify_reads_one_read_only_repeatable_read_snapshot(engine, admin, monkeypatch):
    seen = {}
    real = book.verify

    def spy(session):
        seen["isolation"] = session.scalar(text("SHOW transaction_isolation"))
        seen["read_only"] = session.scalar(text("SHOW transaction_read_only"))
        return real(session)

    monkeypatch.setattr(book, "verify", spy)
    assert verify(engine, admin).ok
    assert seen == {"isolation": "repeatable read", "read_only": "on"}


def test_a_tampered_cached_balance_is_drift_naming_the_account_owner_and_both_amounts(engine, admin, hoa):
    deposit(engine, hoa, "100.00")
    behind_the_back(engine, "UPDATE ledger_accounts SET balance = 1000 WHERE owner_id = :o", o=hoa)
    report = verify(engine, admin)
    assert not report.ok
    [drift] = report.drift
    assert (drift.owner_id, drift.owner_email, drift.asset, drift.purpose) == (hoa, "hoa@example.com", "USD",
                                                                              "available")
    data = report.model_dump(mode="json")["drift"][0]
    assert (data["cached"], data["from_postings"]) == ("1000.00", "100.00")
    with pytest.raises(LedgerDrift) as err:
        service.ensure_balanced(report)
    assert isinstance(err.value, InvalidState) and err.value.code == "ledger_drift"
    assert str(drift.account_id) in err.value.message and "hoa@example.com" in err.value.message
    assert "caches 1000.00 but its postings sum to 100.00" in err.value.message
    assert err.value.details["drift"] == report.model_dump(mode="json")["drift"]


def test_an_amount_finer_than_the_asset_is_shown_in_full_not_rounded_away(engine, admin, hoa):
    deposit(engine, hoa, "100.00")
    behind_the_back(engine, "UPDATE ledger_accounts SET balance = 100.001 WHERE owner_id = :o", o=hoa)
    data = verify(engine, admin).model_dump(mode="json")["drift"][0]
    assert D(data["cached"]) == D("100.001") and data["from_postings"] == "100.00"


def test_an_unbalanced_entry_slipped_past_the_database_is_reported(engine, admin, hoa):
    deposit(engine, hoa, "10.00")
    entry = uuid.uuid4()
    behind_the_back(engine, "INSERT INTO journal_entries (id, kind) VALUES (:e, 'forged')", e=entry)
    behind_the_back(engine, "INSERT INTO postings (entry_id, account_id, asset, amount)"
                            " SELECT :e, id, 'USD', 5 FROM ledger_accounts WHERE owner_id IS NULL", e=entry)
    report = verify(engine, admin)
    assert [(u.entry_id, u.asset, str(u.total)) for u in report.unbalanced_entries] == [(entry, "USD", "5.00")]
    with pytest.raises(LedgerDrift, match=f"journal entry {entry} does not balance"):
        service.ensure_balanced(report)


def test_a_hold_resolved_behind_the_books_leaves_an_orphaned_held_balance(engine, admin, hoa):
    deposit(engine, hoa, "50.00")
    hold_id = hold(engine, hoa, "20.00")
    with engine.begin() as conn:
        conn.execute(text("UPDATE holds SET status = 'voided', resolved_at = now() WHERE id = :h"), {"h": hold_id})
    report = verify(engine, admin)
    [orphan] = report.orphaned_holds
    assert (orphan.owner_id, orphan.owner_email, orphan.asset, str(orphan.held), str(orphan.pending_holds)) == (
        hoa, "hoa@example.com", "USD", "20.00", "0.00")
    assert report.drift == [] and report.unbalanced_entries == []


def test_the_message_names_the_first_problem_and_counts_the_rest(engine, admin, hoa):
    deposit(engine, hoa, "50.00")
    hold_id = hold(engine, hoa, "20.00")
    behind_the_back(engine, "UPDATE ledger_accounts SET balance = 0 WHERE owner_id = :o AND purpose = 'available'",
                    o=hoa)
    with engine.begin() as conn:
        conn.execute(text("UPDATE holds SET status = 'expired', resolved_at = now() WHERE id = :h"), {"h": hold_id})
    with pytest.raises(LedgerDrift) as err:
        service.ensure_balanced(verify(engine, admin))
    assert err.value.message.endswith("; 1 more problem(s)")
    assert len(err.value.details["drift"]) == 1 and len(err.value.details["orphaned_holds"]) == 1


def test_only_admins_verify_the_books(engine, hoa):
    with pytest.raises(PermissionDenied):
        run(engine, service.ledger_verify, actor=Actor(user_id=hoa, role=Role.compliance))


# expire holds


def test_expire_holds_releases_only_the_due_ones_and_audits_them(engine, admin, hoa):
    deposit(engine, hoa, "100.00")
    due = {hold(engine, hoa, "10.00", expires_in=timedelta(seconds=-1)),
           hold(engine, hoa, "15.00", expires_in=timedelta(seconds=-5))}
    later = hold(engine, hoa, "20.00", expires_in=timedelta(hours=1))
    forever = hold(engine, hoa, "5.00")
    result = run(engine, service.ledger_expire_holds, ExpireHolds(), actor=admin)
    assert (result.released, set(result.hold_ids), result.more_due) == (2, due, False)
    with Session(engine) as s:
        assert book.balances(s, hoa)["USD"] == {"available": D("75.00"), "held": D("25.00")}
        states = dict(s.execute(text("SELECT id, status FROM holds")).all())
    assert states == {**{h: "expired" for h in due}, later: "pending", forever: "pending"}
    [(actor_id, target_type, _, _, details)] = audit(engine, "admin.ledger_expire_holds")
    assert (actor_id, target_type, details["released"]) == (admin.user_id, "holds", 2)
    assert set(details["hold_ids"]) == {str(h) for h in due}
    assert verify(engine, admin).ok
    assert run(engine, service.ledger_expire_holds, ExpireHolds(), actor=admin).released == 0


def test_expire_holds_says_when_more_are_due_than_its_limit(engine, admin, hoa):
    deposit(engine, hoa, "100.00")
    for _ in range(3):
        hold(engine, hoa, "1.00", expires_in=timedelta(seconds=-1))
    first = run(engine, service.ledger_expire_holds, ExpireHolds(limit=2), actor=admin)
    assert (first.released, first.more_due) == (2, True)
    second = run(engine, service.ledger_expire_holds, ExpireHolds(limit=2), actor=admin)
    assert (second.released, second.more_due) == (1, False)


@pytest.mark.concurrency
def test_expiring_from_several_connections_at_once_releases_each_hold_exactly_once(db_url, engine, admin, hoa):
    from du_core.db.engine import create

    deposit(engine, hoa, "100.00")
    due = {hold(engine, hoa, "1.00", expires_in=timedelta(seconds=-1)) for _ in range(24)}
    engines = [create(db_url) for _ in range(4)]
    barrier, released, errors = threading.Barrier(4), [], []

    def expire(eng) -> None:
        barrier.wait()
        try:
            while True:
                batch = run(eng, service.ledger_expire_holds, ExpireHolds(limit=3), actor=admin).hold_ids
                if not batch:
                    return
                released.extend(batch)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=expire, args=(eng,)) for eng in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        for eng in engines:
            eng.dispose()
    assert errors == []
    assert sorted(released) == sorted(due)  # every hold, none twice
    with Session(engine) as s:
        assert book.balances(s, hoa)["USD"] == {"available": D("100.00"), "held": D(0)}
    assert verify(engine, admin).ok


# assets


def test_an_added_asset_is_audited_and_the_books_honour_its_precision(engine, admin, hoa):
    view = run(engine, service.assets_add, parse(AddAsset, code="usdc", name="  USD   Coin ", kind="crypto",
                                                 precision=6), actor=admin)
    assert (view.code, view.name, view.kind, view.precision, view.active) == ("USDC", "USD Coin", "crypto", 6, True)
    [(actor_id, target_type, target_id, new, _)] = audit(engine, "admin.assets_add")
    assert (actor_id, target_type, target_id) == (admin.user_id, "asset", "USDC")
    assert new == {"name": "USD Coin", "kind": "crypto", "precision": 6}
    deposit(engine, hoa, "12.345678", "USDC")
    with pytest.raises(DBAPIError, match="more decimals"):
        deposit(engine, hoa, "0.0000001", "USDC")
    assert verify(engine, admin).ok


def test_adding_an_existing_code_is_a_duplicate_and_changes_nothing(engine, admin):
    with pytest.raises(Duplicate, match="asset USD already exists"):
        run(engine, service.assets_add, parse(AddAsset, code="USD", name="Other dollar", kind="fiat", precision=4),
            actor=admin)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, precision FROM assets WHERE code = 'USD'")).one() == ("US dollar", 2)
    assert audit(engine, "admin.assets_add") == []


@pytest.mark.parametrize("field,value", [
    ("code", "U"), ("code", "1INCH"), ("code", "ABCDEFGHIJK"), ("code", "US-D"), ("code", "ÜSD"),
    ("code", "ßTC"),  # upper-cases to SSTC: refused, not silently rewritten
    ("precision", -1), ("precision", 19), ("kind", "stock"), ("name", ""), ("name", "bad\x1b[31mname"),
])
def test_bad_asset_fields_are_refused_before_anything_is_written(field, value):
    fields = {"code": "USDC", "name": "USD Coin", "kind": "crypto", "precision": 6, field: value}
    with pytest.raises(InvalidInput) as err:
        parse(AddAsset, **fields)
    assert err.value.details["errors"][0]["field"] == field
