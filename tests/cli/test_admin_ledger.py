"""`du admin ledger` and `du admin assets` as an operator meets them: exit codes, stdout and stderr."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.ledger import book
from du_core.ledger.book import Leg


@pytest.fixture
def books(du):
    """An engine on the test's database, for setting up money behind the CLI."""
    from du_core.db.engine import create

    eng = create(du.url)
    yield eng
    eng.dispose()


def client(du) -> uuid.UUID:
    """Register a client who does not log in (the admin's profile stays the logged-in one)."""
    n = uuid.uuid4().int
    return uuid.UUID(du.register(f"client-{n % 10**8}@example.com", phone=f"+8491{n % 10_000_000:07d}")["id"])


def deposit(books, owner: uuid.UUID, amount: str) -> None:
    with Session(books) as s, s.begin():
        book.post(s, kind="deposit", legs=[Leg(owner, "USD", "available", Decimal(amount)),
                                          Leg(None, "USD", "external", -Decimal(amount))])


def test_verify_on_sound_books_exits_0_with_the_counts(du, books):
    du.user_as("admin")
    deposit(books, client(du), "100.00")
    r = du("admin", "ledger", "verify", "--json")
    assert (r.exit_code, r.stderr) == (0, "")
    report = r.json()
    assert (report["ok"], report["accounts"], report["postings"]) == (True, 2, 2)
    assert (report["drift"], report["unbalanced_entries"], report["orphaned_holds"]) == ([], [], [])


def test_verify_as_a_table_off_a_terminal_is_plain_key_value_lines(du, books):
    du.user_as("admin")
    deposit(books, client(du), "1.00")
    lines = du("admin", "ledger", "verify").stdout.splitlines()
    assert "ok\tyes" in lines and "postings\t2" in lines


def test_drift_exits_6_with_ledger_drift_naming_the_account_and_nothing_on_stdout(du, books):
    du.user_as("admin")
    owner = client(du)
    deposit(books, owner, "100.00")
    with books.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE ledger_accounts SET balance = 250 WHERE owner_id = :o"), {"o": owner})
    r = du("admin", "ledger", "verify", "--json")
    assert (r.exit_code, r.stdout) == (6, "")
    error = r.error()
    assert error["code"] == "ledger_drift"
    assert "caches 250.00 but its postings sum to 100.00" in error["message"]
    [drift] = error["details"]["drift"]
    assert (drift["owner_id"], drift["cached"], drift["from_postings"]) == (str(owner), "250.00", "100.00")
    plain = du("admin", "ledger", "verify")
    assert (plain.exit_code, plain.stdout) == (6, "")
    assert plain.stderr.startswith("error: the books do not verify: account ")


def test_non_admins_may_not_verify_or_expire(du):
    du.user_as("compliance")
    for args in (("verify",), ("expire-holds",)):
        r = du("admin", "ledger", *args, "--json")
        assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied")


def test_expire_holds_lists_the_released_holds(du, books):
    du.user_as("admin")
    owner = client(du)
    deposit(books, owner, "30.00")
    with Session(books) as s, s.begin():
        due = book.place_hold(s, owner_id=owner, asset="USD", amount=Decimal("10.00"), reason="order",
                              expires_at=book.now() - timedelta(minutes=1)).id
        book.place_hold(s, owner_id=owner, asset="USD", amount=Decimal("5.00"), reason="order",
                        expires_at=book.now() + timedelta(hours=1))
    r = du("admin", "ledger", "expire-holds", "--json")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.json() == {"released": 1, "hold_ids": [str(due)], "more_due": False}
    with Session(books) as s:
        assert book.balances(s, owner)["USD"] == {"available": Decimal("25.00"), "held": Decimal("5.00")}
    assert du("admin", "ledger", "expire-holds", "--json").json()["released"] == 0


def test_expire_holds_with_a_limit_out_of_range_exits_3(du):
    du.user_as("admin")
    r = du("admin", "ledger", "expire-holds", "--limit", "0", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")


def test_an_added_asset_is_shown_and_can_then_be_deposited(du, books):
    du.user_as("admin")
    r = du("admin", "assets", "add", "usdc", "--name", "USD Coin", "--kind", "crypto", "--precision", "6", "--json")
    assert (r.exit_code, r.stderr) == (0, "")
    assert {k: r.json()[k] for k in ("code", "name", "kind", "precision", "active")} == {
        "code": "USDC", "name": "USD Coin", "kind": "crypto", "precision": 6, "active": True}
    listed = du("admin", "assets", "list", "--json").json()
    assert {"code": "USDC", "name": "USD Coin", "kind": "crypto", "precision": 6} in listed
    owner = client(du)
    with Session(books) as s, s.begin():
        book.post(s, kind="deposit", legs=[Leg(owner, "USDC", "available", Decimal("1.000001")),
                                          Leg(None, "USDC", "external", Decimal("-1.000001"))])
    assert du("admin", "ledger", "verify", "--json").json()["ok"] is True


def test_adding_an_existing_asset_exits_6_with_duplicate(du):
    du.user_as("admin")
    r = du("admin", "assets", "add", "BTC", "--name", "Bitcoin", "--kind", "crypto", "--precision", "8", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "duplicate")


@pytest.mark.parametrize("args", [
    ("X", "--kind", "fiat", "--precision", "2"),
    ("1INCH", "--kind", "crypto", "--precision", "18"),
    ("ABC", "--kind", "stock", "--precision", "2"),
    ("ABC", "--kind", "fiat", "--precision", "19"),
    ("ABC", "--kind", "fiat", "--precision", "-1"),
])
def test_bad_asset_fields_exit_3_and_add_nothing(du, books, args):
    du.user_as("admin")
    with books.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM assets")).scalar_one()
    r = du("admin", "assets", "add", args[0], "--name", "Some asset", *args[1:], "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")
    with books.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM assets")).scalar_one() == before


def test_only_admins_add_assets(du):
    du.user_as("staff")
    r = du("admin", "assets", "add", "ABC", "--name", "Abc", "--kind", "fiat", "--precision", "2", "--json")
    assert (r.exit_code, r.error()["code"]) == (5, "permission_denied")
