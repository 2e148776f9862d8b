"""`du financial deposit|withdraw` and `du financial payments ...` as a user and an operator meet them."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from tests.conftest import sql

D = Decimal
TABLES = ("payments", "journal_entries", "postings", "holds", "idempotency_keys", "audit_trails")

BAD_AMOUNTS = [
    ("NaN", "USD"), ("nan", "USD"), ("Infinity", "USD"), ("-Infinity", "USD"), ("1e3", "USD"), ("1E3", "USD"),
    ("1_000", "USD"), ("1,000", "USD"), ("１００", "USD"), ("-5", "USD"), ("0", "USD"), ("0.00", "USD"),
    ("1.001", "USD"), ("1.5", "JPY"), ("1" * 21, "USD"), ("+5", "USD"), (" 5", "USD"), ("5 ", "USD"),
    ("1 000", "USD"), ("", "USD"), ("0x10", "USD"), ("5 USD", "USD"), ("9" * 70, "USD"),
]




def counts(du) -> dict[str, int]:
    return {t: sql(du, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def balances(du, user: dict) -> dict[str, dict[str, Decimal]]:
    from sqlalchemy.orm import Session

    from du_core.db.engine import create
    from du_core.ledger import book

    eng = create(du.url)
    try:
        with Session(eng) as s:
            return book.balances(s, uuid.UUID(user["id"]))
    finally:
        eng.dispose()


def usd(du, user: dict) -> dict[str, Decimal]:
    return balances(du, user).get("USD", {"available": D(0), "held": D(0)})


def member(du, role: str, *, kyc: int, profile: str | None = None) -> dict:
    """Register a user with `role` and KYC level `kyc`, logged in under `profile` (or the default one)."""
    email = f"{profile or 'default'}-{uuid.uuid4().hex[:6]}@example.com"
    user = du.register(email, phone=f"+8491{uuid.uuid4().int % 10_000_000:07d}")
    du.set_role(email, role, kyc)
    assert du.login(email, profile=profile).exit_code == 0
    return {**user, "email": email}


@pytest.fixture
def trader(du) -> dict:
    return member(du, "standard", kyc=2)


@pytest.fixture
def ops(du) -> str:
    """An admin logged in under the profile "ops"."""
    member(du, "admin", kyc=0, profile="ops")
    return "ops"


@pytest.fixture(autouse=True)
def books_balance_afterwards(du):
    """Every scenario leaves the books verifiable: no drift, no unbalanced entry, no orphaned hold."""
    yield
    from sqlalchemy.orm import Session

    from du_core.db.engine import create
    from du_core.ledger import book

    eng = create(du.url)
    try:
        with Session(eng) as s:
            result = book.verify(s)
            assert result.ok, result
    finally:
        eng.dispose()


def deposit(du, amount: str = "100.00", currency: str = "USD", method: str = "sandbox", *extra: str):
    return du("financial", "deposit", f"--amount={amount}", "--currency", currency, "--method", method, "--yes",
              "--json", *extra)


def withdraw(du, amount: str = "40.00", currency: str = "USD", method: str = "manual", *extra: str):
    return du("financial", "withdraw", f"--amount={amount}", "--currency", currency, "--method", method,
              "--destination", "VN12 3456 7890", "--yes", "--json", *extra)


def payments(du, *args: str, profile: str | None = None):
    prefix = ("--profile", profile) if profile else ()
    return du(*prefix, "financial", "payments", *args, "--json")


# amounts


@pytest.mark.parametrize("amount,currency", BAD_AMOUNTS)
def test_a_bad_deposit_amount_exits_3_and_writes_nothing(du, trader, amount, currency):
    before = counts(du)
    r = deposit(du, amount, currency, "sandbox", "--idempotency-key", "bad-1")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error"), r.stderr
    assert counts(du) == before


@pytest.mark.parametrize("amount,currency", BAD_AMOUNTS)
def test_a_bad_withdrawal_amount_exits_3_and_writes_nothing(du, trader, amount, currency):
    assert deposit(du, "1000.00").exit_code == 0
    assert deposit(du, "1000", "JPY").exit_code == 0
    before = counts(du)
    r = withdraw(du, amount, currency, "sandbox", "--idempotency-key", "bad-1")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error"), r.stderr
    assert counts(du) == before


def test_an_unknown_currency_or_method_exits_3(du, trader):
    before = counts(du)
    r = deposit(du, "5", "XYZ")
    assert (r.exit_code, r.error()["code"]) == (3, "validation_error")
    assert "USD" in r.error()["details"]["allowed"]
    assert deposit(du, "5", "USD", "paypal").exit_code == 3
    assert counts(du) == before


# deposits


def test_a_sandbox_deposit_credits_the_exact_amount_shown_as_a_string(du, trader):
    r = deposit(du, "100")
    assert r.exit_code == 0, r.stderr
    view = r.json()
    assert (view["amount"], view["currency"], view["status"], view["kind"]) == ("100.00", "USD", "completed", "deposit")
    assert usd(du, trader) == {"available": D("100.00"), "held": D(0)}
    assert payments(du, "status", view["id"]).json() == view


def test_a_deposit_without_kyc_exits_6_kyc_required(du):
    member(du, "standard", kyc=0)
    r = deposit(du)
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "kyc_required")


def test_off_a_terminal_without_yes_nothing_blocks_and_nothing_moves(du, trader):
    before = counts(du)
    r = du("financial", "deposit", "--amount", "5", "--currency", "USD", "--method", "sandbox", "--json")
    assert (r.exit_code, r.stdout) == (3, "")
    assert "--yes" in r.error()["message"]
    assert counts(du) == before


def test_deposit_needs_a_login(du):
    r = deposit(du)
    assert (r.exit_code, r.error()["code"]) == (5, "auth_required")


# withdrawals


def test_a_withdrawal_without_kyc_level_2_exits_6_kyc_required(du):
    user = member(du, "standard", kyc=1)
    assert deposit(du).exit_code == 0
    before = counts(du)
    r = withdraw(du)
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "kyc_required")
    assert counts(du) == before
    assert usd(du, user)["available"] == D("100.00")


def test_a_withdrawal_beyond_the_balance_exits_6_insufficient_funds(du, trader):
    assert deposit(du, "10.00").exit_code == 0
    r = withdraw(du, "10.01")
    assert (r.exit_code, r.error()["code"]) == (6, "insufficient_funds")
    assert usd(du, trader) == {"available": D("10.00"), "held": D(0)}


def test_a_manual_withdrawal_is_held_until_an_admin_processes_it(du, trader, ops):
    assert deposit(du).exit_code == 0
    view = withdraw(du, "40").json()
    assert (view["status"], view["amount"], view["destination"]) == ("pending", "40.00", "VN12 3456 7890")
    assert usd(du, trader) == {"available": D("60.00"), "held": D("40.00")}
    r = payments(du, "process", view["id"])
    assert (r.exit_code, r.error()["code"]) == (5, "permission_denied")
    r = payments(du, "process", view["id"], "--reference", "BANK-7", profile=ops)
    assert r.exit_code == 0, r.stderr
    assert (r.json()["status"], r.json()["gateway_reference"]) == ("completed", "BANK-7")
    assert usd(du, trader) == {"available": D("60.00"), "held": D(0)}
    r = payments(du, "process", view["id"], profile=ops)
    assert (r.exit_code, r.error()["code"]) == (6, "invalid_state")


def test_a_failed_withdrawal_releases_its_hold(du, trader, ops):
    assert deposit(du).exit_code == 0
    view = withdraw(du).json()
    r = payments(du, "process", view["id"], "--fail", "--reason", "account closed", profile=ops)
    assert (r.json()["status"], r.json()["failure_reason"]) == ("failed", "account closed")
    assert usd(du, trader) == {"available": D("100.00"), "held": D(0)}


def test_a_manual_deposit_credits_once_processed_and_nothing_when_failed(du, trader, ops):
    first = deposit(du, "30", "USD", "manual").json()
    second = deposit(du, "20", "USD", "manual").json()
    assert first["status"] == "pending" and usd(du, trader)["available"] == 0
    assert payments(du, "process", first["id"], "--start", profile=ops).json()["status"] == "processing"
    assert payments(du, "process", first["id"], profile=ops).json()["status"] == "completed"
    assert payments(du, "process", second["id"], "--fail", profile=ops).json()["status"] == "failed"
    assert usd(du, trader)["available"] == D("30.00")


def test_process_options_that_contradict_each_other_exit_3(du, trader, ops):
    view = deposit(du, "30", "USD", "manual").json()
    assert payments(du, "process", view["id"], "--start", "--fail", profile=ops).exit_code == 3
    assert payments(du, "process", view["id"], "--reason", "why", profile=ops).exit_code == 3
    assert payments(du, "status", view["id"]).json()["status"] == "pending"


def test_cancel_releases_the_hold_and_a_second_cancel_exits_6(du, trader):
    assert deposit(du).exit_code == 0
    view = withdraw(du).json()
    r = payments(du, "cancel", view["id"])
    assert (r.exit_code, r.json()["status"]) == (0, "cancelled")
    assert usd(du, trader) == {"available": D("100.00"), "held": D(0)}
    r = payments(du, "cancel", view["id"])
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "invalid_state")
    assert usd(du, trader) == {"available": D("100.00"), "held": D(0)}


def test_a_processing_payment_is_cancelled_by_an_admin_only(du, trader, ops):
    assert deposit(du).exit_code == 0
    view = withdraw(du).json()
    assert payments(du, "process", view["id"], "--start", profile=ops).exit_code == 0
    assert payments(du, "cancel", view["id"]).exit_code == 6
    assert payments(du, "cancel", view["id"], profile=ops).json()["status"] == "cancelled"
    assert usd(du, trader) == {"available": D("100.00"), "held": D(0)}


def test_the_daily_limit_exits_6_risk_limit(du, trader, ops):
    r = du("--profile", ops, "admin", "settings", "update", "withdraw_daily_limit_level2=50", "--json")
    assert r.exit_code == 0, r.stderr
    assert deposit(du).exit_code == 0
    assert withdraw(du, "30").exit_code == 0
    before = counts(du)
    r = withdraw(du, "20.01")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "risk_limit")
    assert r.error()["details"]["limit"] == "50.00"
    assert counts(du) == before
    assert withdraw(du, "20").exit_code == 0


# idempotency


def test_a_repeat_with_the_same_key_returns_the_same_payment_and_moves_nothing(du, trader):
    first = deposit(du, "100.00", "USD", "sandbox", "--idempotency-key", "dep-2024-001")
    assert first.exit_code == 0
    entries = sql(du, "SELECT count(*) FROM journal_entries")[0][0]
    again = deposit(du, "100.00", "USD", "sandbox", "--idempotency-key", "dep-2024-001")
    assert (again.exit_code, again.json()) == (0, first.json())
    assert sql(du, "SELECT count(*) FROM journal_entries")[0][0] == entries
    assert sql(du, "SELECT count(*) FROM payments")[0][0] == 1
    assert usd(du, trader)["available"] == D("100.00")


def test_the_same_key_with_another_amount_exits_6_duplicate(du, trader):
    assert deposit(du, "100.00", "USD", "sandbox", "--idempotency-key", "k-1").exit_code == 0
    r = deposit(du, "100.01", "USD", "sandbox", "--idempotency-key", "k-1")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "duplicate")
    assert usd(du, trader)["available"] == D("100.00")


def test_a_withdrawal_repeat_holds_nothing_more(du, trader):
    assert deposit(du).exit_code == 0
    first = withdraw(du, "40", "USD", "manual", "--idempotency-key", "wd-1").json()
    assert withdraw(du, "40", "USD", "manual", "--idempotency-key", "wd-1").json()["id"] == first["id"]
    assert usd(du, trader) == {"available": D("60.00"), "held": D("40.00")}


# other users, history


def test_another_users_payment_exits_4(du, trader):
    view = deposit(du, "5", "USD", "manual").json()
    member(du, "standard", kyc=2, profile="eve")
    for action in ("status", "cancel"):
        r = payments(du, action, view["id"], profile="eve")
        assert (r.exit_code, r.stdout, r.error()["code"]) == (4, "", "not_found")
    assert payments(du, "status", str(uuid.uuid4())).exit_code == 4
    assert payments(du, "status", view["id"]).json()["status"] == "pending"


def test_a_malformed_payment_id_is_a_usage_error(du, trader):
    assert payments(du, "status", "not-a-uuid").exit_code == 2


def test_history_pages_through_own_payments_with_filters(du, trader):
    for amount in ("1", "2", "3"):
        assert deposit(du, amount).exit_code == 0
    assert deposit(du, "500", "JPY", "manual").exit_code == 0
    page = payments(du, "history", "--limit", "2").json()
    assert (page["total"], page["page"], page["limit"], len(page["items"])) == (4, 1, 2, 2)
    assert [p["amount"] for p in page["items"]] == ["500", "3.00"]
    assert [p["amount"] for p in payments(du, "history", "--limit", "2", "--page", "2").json()["items"]] == \
        ["2.00", "1.00"]
    pending = payments(du, "history", "--status", "pending", "--currency", "jpy").json()
    assert [(p["currency"], p["status"]) for p in pending["items"]] == [("JPY", "pending")]
    assert payments(du, "history", "--kind", "withdrawal").json()["total"] == 0
    assert payments(du, "history", "--status", "lost").exit_code == 3


def test_history_renders_a_table_and_csv(du, trader):
    assert deposit(du, "12.5").exit_code == 0
    table = du("financial", "payments", "history")
    assert table.exit_code == 0 and "12.50" in table.stdout
    csv = du("financial", "payments", "history", "-o", "csv")
    assert csv.stdout.splitlines()[0].startswith("id,user_id,kind,currency,amount")
    assert ",12.50," in csv.stdout
