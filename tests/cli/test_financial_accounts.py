"""`du financial balance|transactions|reports|exchange|rates|assets` as a user meets them."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from tests.conftest import sql

D = Decimal
UTC = timezone.utc
TABLES = ("journal_entries", "postings", "ledger_accounts", "idempotency_keys", "audit_trails")


def engine_of(du):
    from du_core.db.engine import create

    return create(du.url)




def counts(du) -> dict[str, int]:
    return {t: sql(du, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def post(du, user: dict, amount: str, asset: str = "USD", *, at: datetime | None = None) -> None:
    """Give (or, negative, take) a user money as a deposit (or withdrawal) straight into the books."""
    from sqlalchemy.orm import Session

    from du_core.ledger import book
    from du_core.ledger.book import Leg

    owner, value = uuid.UUID(user["id"]), D(amount)
    eng = engine_of(du)
    try:
        with Session(eng) as s, s.begin():
            entry = book.post(s, kind="deposit" if value > 0 else "withdrawal",
                              legs=[Leg(owner, asset, "available", value), Leg(None, asset, "external", -value)])
    finally:
        eng.dispose()
    if at is not None:
        sql(du, "UPDATE journal_entries SET created_at = :t WHERE id = :e", t=at, e=entry, triggers_off=True)
        sql(du, "UPDATE postings SET created_at = :t WHERE entry_id = :e", t=at, e=entry, triggers_off=True)


def books_ok(du) -> bool:
    from sqlalchemy.orm import Session

    from du_core.ledger import book

    eng = engine_of(du)
    try:
        with Session(eng) as s:
            return book.verify(s).ok
    finally:
        eng.dispose()


def member(du, role: str = "standard", *, kyc: int = 1, profile: str | None = None) -> dict:
    """Register a user with `role` and KYC level `kyc`, logged in under `profile` (or the default one)."""
    email = f"{profile or 'default'}-{uuid.uuid4().hex[:6]}@example.com"
    user = du.register(email, phone=f"+8491{uuid.uuid4().int % 10_000_000:07d}")
    du.set_role(email, role, kyc)
    assert du.login(email, profile=profile).exit_code == 0
    return user


def set_rate(du, base: str, quote: str, rate: str, *, hours_ago: float = 0) -> None:
    as_of = datetime.now(UTC) - timedelta(hours=hours_ago)
    sql(du, "INSERT INTO fx_rates (id, base, quote, rate, source, as_of) VALUES (:id, :b, :q, :r, 'admin', :t)",
        id=uuid.uuid4(), b=base, q=quote, r=D(rate), t=as_of)


@pytest.fixture
def trader(du) -> dict:
    return member(du)


def swap(du, amount: str, *extra: str, source: str = "USD", target: str = "EUR"):
    return du("financial", "exchange", "--from", source, "--to", target, f"--amount={amount}", "--yes", "--json",
              *extra)


# exchange


def test_exchange_prints_exact_amounts_and_the_balance_shows_them(du, trader):
    set_rate(du, "USD", "EUR", "0.9490")
    post(du, trader, "1000.00")
    r = swap(du, "123.45")
    assert (r.exit_code, r.stderr) == (0, "")
    result = r.json()
    assert {k: result[k] for k in ("from_amount", "gross_amount", "to_amount", "fee", "rate", "spread")} == {
        "from_amount": "123.45", "gross_amount": "117.15", "to_amount": "116.56", "fee": "0.59", "rate": "0.949",
        "spread": "0.005"}
    assert result["executed"] is True and uuid.UUID(result["entry_id"])
    balance = du("financial", "balance", "--json").json()
    rows = {b["currency"]: b for b in balance["balances"]}
    assert (rows["USD"]["available"], rows["EUR"]["available"], rows["EUR"]["held"]) == ("876.55", "116.56", "0.00")
    assert sql(du, "SELECT coalesce(sum(p.amount), 0) FROM postings p JOIN ledger_accounts a ON a.id = p.account_id"
                   " WHERE a.purpose = 'fees' AND a.asset = 'EUR'")[0][0] == D("0.59")
    assert books_ok(du)


BAD_AMOUNTS = ["NaN", "Infinity", "-Infinity", "1e3", "1_000", "1,000", "１００", "-5", "0", "0.00", "1.001",
               "1" * 21, "+5", " 5", "5 ", "1 000", "", "9" * 70]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_every_bad_amount_exits_3_with_nothing_written(du, trader, amount):
    set_rate(du, "USD", "EUR", "0.9490")
    post(du, trader, "100.00")
    before = counts(du)
    r = swap(du, amount, "--idempotency-key", "bad-amount")
    assert (r.exit_code, r.stdout) == (3, "")
    assert r.error()["code"] == "validation_error"
    assert counts(du) == before


def test_too_many_places_for_the_source_asset_exits_3(du, trader):
    set_rate(du, "JPY", "USD", "0.0066")
    post(du, trader, "1000", asset="JPY")
    before = counts(du)
    r = swap(du, "10.5", source="JPY", target="USD")
    assert r.exit_code == 3 and "0 decimal places" in r.error()["message"]
    assert counts(du) == before


def test_without_yes_off_a_terminal_nothing_is_exchanged(du, trader):
    set_rate(du, "USD", "EUR", "0.9490")
    post(du, trader, "100.00")
    before = counts(du)
    r = du("financial", "exchange", "--from", "USD", "--to", "EUR", "--amount", "10.00")
    assert (r.exit_code, r.stdout) == (3, "") and "--yes" in r.stderr
    assert counts(du) == before


def test_insufficient_funds_exit_6_with_nothing_written(du, trader):
    set_rate(du, "USD", "EUR", "0.9490")
    post(du, trader, "10.00")
    before = counts(du)
    r = swap(du, "10.01")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "insufficient_funds")
    assert counts(du) == before and books_ok(du)


def test_a_stale_rate_exits_6(du, trader):
    set_rate(du, "USD", "EUR", "0.9490", hours_ago=97)
    post(du, trader, "100.00")
    before = counts(du)
    r = swap(du, "10.00")
    assert (r.exit_code, r.error()["code"]) == (6, "invalid_state") and "stale" in r.error()["message"]
    assert counts(du) == before


def test_a_missing_rate_exits_6(du, trader):
    post(du, trader, "100.00")
    r = swap(du, "10.00", target="GBP")
    assert (r.exit_code, r.error()["code"]) == (6, "invalid_state") and "no exchange rate" in r.error()["message"]


def test_kyc_level_0_exits_6_kyc_required(du):
    newcomer = member(du, kyc=0)
    set_rate(du, "USD", "EUR", "0.9490")
    post(du, newcomer, "100.00")
    before = counts(du)
    r = swap(du, "10.00")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "kyc_required")
    assert counts(du) == before


def test_read_only_users_may_not_exchange(du):
    member(du, "read_only", kyc=2)
    r = swap(du, "10.00")
    assert (r.exit_code, r.error()["code"]) == (5, "permission_denied")


def test_an_idempotent_repeat_prints_the_first_result_and_other_parameters_are_a_duplicate(du, trader):
    set_rate(du, "USD", "EUR", "0.9490")
    post(du, trader, "100.00")
    first = swap(du, "50.00", "--idempotency-key", "swap-42")
    again = swap(du, "50.00", "--idempotency-key", "swap-42")
    assert first.exit_code == again.exit_code == 0 and first.json() == again.json()
    other = swap(du, "40.00", "--idempotency-key", "swap-42")
    assert (other.exit_code, other.stdout, other.error()["code"]) == (6, "", "duplicate")
    assert sql(du, "SELECT count(*) FROM journal_entries WHERE kind = 'exchange'")[0][0] == 1
    rows = {b["currency"]: b for b in du("financial", "balance", "--json").json()["balances"]}
    assert (rows["USD"]["available"], rows["EUR"]["available"]) == ("50.00", "47.21")
    assert books_ok(du)


def test_a_cross_rate_through_eur(du, trader):
    set_rate(du, "EUR", "USD", "1.0537")
    set_rate(du, "EUR", "JPY", "159.56")
    post(du, trader, "100.00")
    result = swap(du, "100.00", target="JPY").json()
    assert (result["via"], result["gross_amount"], result["to_amount"], result["fee"]) == (
        "EUR", "15142", "15066", "76")
    assert books_ok(du)


# balance, rates, assets


def test_balance_without_a_rate_names_what_it_could_not_value(du, trader):
    post(du, trader, "100.00")
    post(du, trader, "0.00000001", asset="BTC")
    data = du("financial", "balance", "--json").json()
    assert (data["base_currency"], data["total_value"], data["unvalued"]) == ("USD", "100.00", ["BTC"])
    btc = [b for b in data["balances"] if b["currency"] == "BTC"][0]
    assert (btc["total"], btc["value"]) == ("0.00000001", None)  # plain digits, never 1E-8


def test_balance_with_a_rate_values_it_in_the_base_currency(du, trader):
    set_rate(du, "BTC", "USD", "65432.10")
    post(du, trader, "100.00")
    post(du, trader, "0.5", asset="BTC")
    data = du("financial", "balance", "--json").json()
    assert (data["total_value"], data["unvalued"], data["stale"]) == ("32816.05", [], [])


def test_balance_as_a_plain_table_off_a_terminal(du, trader):
    post(du, trader, "100.00")
    out = du("financial", "balance").stdout
    assert "base_currency\tUSD" in out and "total_value\t100.00" in out


def test_rates_show_age_and_stale(du, trader):
    set_rate(du, "EUR", "USD", "1.0537", hours_ago=1)
    set_rate(du, "EUR", "JPY", "159.56", hours_ago=100)
    rows = {(r["base"], r["quote"]): r for r in du("financial", "rates", "--json").json()}
    assert (rows["EUR", "USD"]["rate"], rows["EUR", "USD"]["stale"], rows["EUR", "JPY"]["stale"]) == (
        "1.0537", False, True)
    from_usd = {r["quote"]: r for r in du("financial", "rates", "--base", "USD", "--json").json()}
    assert from_usd["JPY"]["via"] == "EUR" and from_usd["JPY"]["stale"] is True
    assert du("financial", "rates", "--base", "XYZ", "--json").exit_code == 3


def test_assets_need_no_login(du):
    r = du("financial", "assets", "--json")
    assert r.exit_code == 0
    places = {a["code"]: a["precision"] for a in r.json()}
    assert places == {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "VND": 0, "BTC": 8, "ETH": 18, "USDT": 6}


def test_balance_needs_a_login(du):
    r = du("financial", "balance", "--json")
    assert (r.exit_code, r.stdout) == (5, "")


# transactions and reports


def test_transactions_page_and_filter(du, trader):
    set_rate(du, "USD", "EUR", "0.9")
    for amount in ("10.00", "20.00", "30.00"):
        post(du, trader, amount)
    assert swap(du, "5.00").exit_code == 0
    page = du("financial", "transactions", "--limit", "2", "--page", "2", "--json").json()
    assert (page["page"], page["limit"], page["total"]) == (2, 2, 5)  # the exchange posts on USD and EUR
    assert [i["amount"] for i in page["items"]] == ["30.00", "20.00"]
    eur = du("financial", "transactions", "--currency", "EUR", "--json").json()
    assert [(i["kind"], i["amount"]) for i in eur["items"]] == [("exchange", "4.47")]
    deposits = du("financial", "transactions", "--type", "deposit", "--from", "2000-01-01", "--json").json()
    assert deposits["total"] == 3
    assert du("financial", "transactions", "--limit", "500", "--json").exit_code == 3


def test_monthly_report_exports_one_csv_row_per_month_and_currency(du, trader):
    post(du, trader, "100.00", at=datetime(2025, 1, 10, tzinfo=UTC))
    post(du, trader, "-40.00", at=datetime(2025, 2, 3, tzinfo=UTC))
    post(du, trader, "7", asset="JPY", at=datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
    r = du("financial", "reports", "--period", "monthly", "--year", "2025", "-o", "csv")
    assert (r.exit_code, r.stderr) == (0, "")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == ["period", "currency", "opening", "inflows", "outflows", "fees", "closing"]
    assert [tuple(row.values()) for row in rows] == [
        ("2025-01", "USD", "0.00", "100.00", "0.00", "0.00", "100.00"),
        ("2025-02", "USD", "100.00", "0.00", "40.00", "0.00", "60.00"),
        *[(f"2025-{m:02d}", "USD", "60.00", "0.00", "0.00", "0.00", "60.00") for m in range(3, 12)],
        ("2025-12", "JPY", "0", "7", "0", "0", "7"),
        ("2025-12", "USD", "60.00", "0.00", "0.00", "0.00", "60.00"),
    ]
    data = du("financial", "reports", "--year", "2025", "--json").json()
    assert data["period"] == "monthly" and data["items"][1]["outflows"] == "40.00"
    assert du("financial", "reports", "--year", "2025", "--period", "weekly", "--json").exit_code == 3
