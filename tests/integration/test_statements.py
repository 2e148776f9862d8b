"""Balances, transactions and statements on a real database, checked against hand-computed numbers."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.actor import Actor, Role
from du_core.db.runner import run
from du_core.errors import InvalidInput
from du_core.financial import service as financial
from du_core.financial.schemas import ReportQuery, TransactionQuery
from du_core.fx import service as fx
from du_core.fx.schemas import Exchange, SetRate
from du_core.ledger import book
from du_core.ledger.book import Leg
from du_core.validation import parse

D = Decimal
UTC = timezone.utc


def make_user(engine, *, base_currency: str | None = None, role: str = "standard") -> Actor:
    uid = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, phone, password_hash, role, kyc_level)"
                          " VALUES (:id, :e, :p, 'x', :r, 1)"),
                     {"id": uid, "e": f"{uid.hex[:10]}@example.com", "p": f"+8491{uid.int % 10_000_000:07d}",
                      "r": role})
        if base_currency:
            conn.execute(text("INSERT INTO user_profiles (user_id, full_name, date_of_birth, nationality,"
                              " base_currency) VALUES (:id, 'Trần Thị Hoa', '1990-05-01', 'VN', :b)"),
                         {"id": uid, "b": base_currency})
    return Actor(user_id=uid, role=Role(role), kyc_level=1)


@pytest.fixture
def admin(engine) -> Actor:
    return make_user(engine, role="admin")


@pytest.fixture
def user(engine) -> Actor:
    return make_user(engine)


def post(engine, kind: str, legs: list[Leg], *, at: datetime | None = None) -> uuid.UUID:
    with Session(engine) as s, s.begin():
        entry = book.post(s, kind=kind, legs=legs)
    if at is not None:
        backdate(engine, entry, at)
    return entry


def backdate(engine, entry: uuid.UUID, at: datetime) -> None:
    """Move an entry to another time, behind the platform's back (postings are insert-only)."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE journal_entries SET created_at = :t WHERE id = :e"), {"t": at, "e": entry})
        conn.execute(text("UPDATE postings SET created_at = :t WHERE entry_id = :e"), {"t": at, "e": entry})


def deposit(engine, owner: uuid.UUID, amount: str, asset: str = "USD", *, at: datetime | None = None) -> uuid.UUID:
    return post(engine, "deposit", [Leg(owner, asset, "available", D(amount)),
                                    Leg(None, asset, "external", -D(amount))], at=at)


def withdraw(engine, owner: uuid.UUID, amount: str, asset: str = "USD", *, at: datetime | None = None) -> uuid.UUID:
    return post(engine, "withdrawal", [Leg(owner, asset, "available", -D(amount)),
                                       Leg(None, asset, "external", D(amount))], at=at)


def set_rate(engine, admin: Actor, base: str, quote: str, rate: str, *, age: timedelta | None = None) -> None:
    as_of = None if age is None else datetime.now(UTC) - age
    run(engine, fx.set_rate, parse(SetRate, base=base, quote=quote, rate=rate, as_of=as_of), actor=admin)


def books_ok(engine) -> bool:
    with Session(engine) as s:
        return book.verify(s).ok


# balance


def test_balance_without_rates_names_the_assets_it_could_not_value(engine, user):
    deposit(engine, user.user_id, "100.00")
    deposit(engine, user.user_id, "0.5", asset="BTC")
    view = run(engine, financial.balance, None, actor=user)
    assert view.base_currency == "USD" and view.unvalued == ["BTC"] and view.stale == []
    assert view.total_value == D("100.00")
    rows = {r.currency: r for r in view.balances}
    assert (rows["BTC"].total, rows["BTC"].value, rows["USD"].value) == (D("0.50000000"), None, D("100.00"))
    data = view.model_dump(mode="json")
    assert data["total_value"] == "100.00"
    assert [r for r in data["balances"] if r["currency"] == "BTC"][0]["total"] == "0.50000000"


def test_balance_with_rates_values_every_asset_and_counts_held_money(engine, admin, user):
    set_rate(engine, admin, "BTC", "USD", "65432.10")
    deposit(engine, user.user_id, "100.00")
    deposit(engine, user.user_id, "0.5", asset="BTC")
    with Session(engine) as s, s.begin():
        book.place_hold(s, owner_id=user.user_id, asset="USD", amount=D("30.00"), reason="withdrawal")
    view = run(engine, financial.balance, None, actor=user)
    rows = {r.currency: r for r in view.balances}
    assert (rows["USD"].available, rows["USD"].held, rows["USD"].total) == (D("70.00"), D("30.00"), D("100.00"))
    assert rows["BTC"].value == D("32716.05") and rows["BTC"].rate_stale is False
    assert (view.total_value, view.unvalued) == (D("32816.05"), [])


def test_balance_in_a_base_currency_across_eur_flags_a_stale_rate(engine, admin):
    eur_user = make_user(engine, base_currency="EUR")
    set_rate(engine, admin, "EUR", "USD", "1.25", age=timedelta(hours=200))
    set_rate(engine, admin, "EUR", "GBP", "0.8")
    deposit(engine, eur_user.user_id, "100.00")
    deposit(engine, eur_user.user_id, "10.00", asset="GBP")
    deposit(engine, eur_user.user_id, "3.00", asset="EUR")
    view = run(engine, financial.balance, None, actor=eur_user)
    rows = {r.currency: r for r in view.balances}
    assert (rows["USD"].value, rows["GBP"].value, rows["EUR"].value) == (D("80.00"), D("12.50"), D("3.00"))
    assert view.total_value == D("95.50") and view.stale == ["USD"] and view.base_currency == "EUR"


def test_a_new_user_has_an_empty_balance_worth_zero(engine, user):
    view = run(engine, financial.balance, None, actor=user)
    assert (view.balances, view.total_value, view.unvalued) == ([], D("0.00"), [])


# transactions


def test_transactions_are_the_users_own_postings_newest_first_in_pages(engine, admin, user):
    other = make_user(engine)
    deposit(engine, other.user_id, "999.00")
    for n, amount in enumerate(("10.00", "20.00", "30.00")):
        deposit(engine, user.user_id, amount, at=datetime(2026, 1, 10 + n, tzinfo=UTC))
    with Session(engine) as s, s.begin():
        book.place_hold(s, owner_id=user.user_id, asset="USD", amount=D("5.00"), reason="withdrawal")
    page1 = run(engine, financial.transactions, parse(TransactionQuery, limit=2), actor=user)
    page3 = run(engine, financial.transactions, parse(TransactionQuery, limit=2, page=3), actor=user)
    assert (page1.total, page1.page, page1.limit, len(page1.items), len(page3.items)) == (5, 1, 2, 2, 1)
    assert {(r.kind, r.account, r.amount) for r in page1.items} == {("hold", "held", D("5.00")),
                                                                      ("hold", "available", D("-5.00"))}
    assert (page3.items[0].kind, page3.items[0].amount, page3.items[0].created_at) == (
        "deposit", D("10.00"), datetime(2026, 1, 10, tzinfo=UTC))
    assert page1.model_dump(mode="json")["items"][0]["amount"] in ("5.00", "-5.00")


def test_transactions_filter_by_currency_kind_and_time(engine, admin, user):
    set_rate(engine, admin, "USD", "EUR", "0.9")
    deposit(engine, user.user_id, "100.00", at=datetime(2026, 1, 5, 12, tzinfo=UTC))
    deposit(engine, user.user_id, "50.00", at=datetime(2026, 2, 1, 0, tzinfo=UTC))
    run(engine, fx.exchange, parse(Exchange, from_currency="USD", to_currency="EUR", amount="10.00"), actor=user)

    def query(**filters):
        return run(engine, financial.transactions, parse(TransactionQuery, **filters), actor=user)

    eur = query(currency="eur")
    assert [(r.kind, r.currency, r.amount) for r in eur.items] == [("exchange", "EUR", D("8.95"))]
    assert [r.amount for r in query(kind="DEPOSIT").items] == [D("50.00"), D("100.00")]
    assert [r.amount for r in query(kind="exchange", currency="USD").items] == [D("-10.00")]
    january = query(since="2026-01-01", until="2026-01-31")
    assert [r.amount for r in january.items] == [D("100.00")]  # the whole of 31 January, not 1 February
    assert [r.amount for r in query(since="2026-01-05T12:00:00", until="2026-02-01T00:00:00").items] == [
        D("50.00"), D("100.00")]
    assert query(kind="release").total == 0
    with pytest.raises(InvalidInput, match="unknown currency"):
        query(currency="XYZ")
    with pytest.raises(InvalidInput, match="since is after until"):
        query(since="2026-02-01", until="2026-01-01")
    with pytest.raises(InvalidInput):
        query(kind="drop table")


# statements


@pytest.fixture
def year_2025(engine, admin, user):
    """A year of one user's money, every amount chosen so the statement can be checked by hand."""
    deposit(engine, user.user_id, "100.00", at=datetime(2024, 12, 15, tzinfo=UTC))
    deposit(engine, user.user_id, "500.00", at=datetime(2025, 1, 10, tzinfo=UTC))
    set_rate(engine, admin, "USD", "EUR", "0.9")
    # 200.00 USD x 0.9 = 180.00 EUR; x 0.995 = 179.10 received; 0.90 fee
    swap = run(engine, fx.exchange, parse(Exchange, from_currency="USD", to_currency="EUR", amount="200.00"),
               actor=user)
    backdate(engine, swap.entry_id, datetime(2025, 1, 20, tzinfo=UTC))
    with Session(engine) as s, s.begin():
        hold_id = book.place_hold(s, owner_id=user.user_id, asset="USD", amount=D("50.00"), reason="withdrawal").id
        hold_entry = s.execute(text("SELECT id FROM journal_entries WHERE kind = 'hold'")).scalar()
    backdate(engine, hold_entry, datetime(2025, 1, 25, tzinfo=UTC))
    with Session(engine) as s, s.begin():  # 30.00 of the 50.00 held leaves, 20.00 returns
        book.post_hold(s, hold_id, amount=D("30.00"), to=Leg(None, "USD", "external", D(0)), kind="withdrawal")
        spent = s.execute(text("SELECT id FROM journal_entries WHERE kind = 'withdrawal'")).scalar()
    backdate(engine, spent, datetime(2025, 2, 5, tzinfo=UTC))
    withdraw(engine, user.user_id, "179.10", asset="EUR", at=datetime(2025, 4, 2, tzinfo=UTC))
    deposit(engine, user.user_id, "1.00", at=datetime(2026, 1, 1, tzinfo=UTC))  # next year: not in 2025
    return user


def report(engine, actor: Actor, year: int, period: str = "monthly", currency: str | None = None):
    return run(engine, financial.reports, parse(ReportQuery, year=year, period=period, currency=currency), actor=actor)


def rows_of(view) -> list[tuple[str, ...]]:
    return [(r.period, r.currency, str(r.opening), str(r.inflows), str(r.outflows), str(r.fees), str(r.closing))
            for r in view.items]


def test_the_monthly_statement_adds_up_by_hand(engine, year_2025):
    rows = rows_of(report(engine, year_2025, 2025))
    assert rows[:7] == [
        ("2025-01", "EUR", "0.00", "179.10", "0.00", "0.90", "179.10"),
        ("2025-01", "USD", "100.00", "500.00", "200.00", "0.00", "400.00"),  # the hold is no flow
        ("2025-02", "EUR", "179.10", "0.00", "0.00", "0.00", "179.10"),
        ("2025-02", "USD", "400.00", "0.00", "30.00", "0.00", "370.00"),
        ("2025-03", "EUR", "179.10", "0.00", "0.00", "0.00", "179.10"),  # no activity, still a balance
        ("2025-03", "USD", "370.00", "0.00", "0.00", "0.00", "370.00"),
        ("2025-04", "EUR", "179.10", "0.00", "179.10", "0.00", "0.00"),
    ]
    assert rows[7:] == [(f"2025-{m:02d}", "USD", "370.00", "0.00", "0.00", "0.00", "370.00") for m in range(4, 13)]
    assert books_ok(engine)


def test_quarterly_and_yearly_statements_and_one_currency(engine, year_2025):
    assert rows_of(report(engine, year_2025, 2025, "quarterly"))[:4] == [
        ("2025-Q1", "EUR", "0.00", "179.10", "0.00", "0.90", "179.10"),
        ("2025-Q1", "USD", "100.00", "500.00", "230.00", "0.00", "370.00"),
        ("2025-Q2", "EUR", "179.10", "0.00", "179.10", "0.00", "0.00"),
        ("2025-Q2", "USD", "370.00", "0.00", "0.00", "0.00", "370.00"),
    ]
    assert rows_of(report(engine, year_2025, 2025, "yearly")) == [
        ("2025", "EUR", "0.00", "179.10", "179.10", "0.90", "0.00"),
        ("2025", "USD", "100.00", "500.00", "230.00", "0.00", "370.00"),
    ]
    assert {r.currency for r in report(engine, year_2025, 2025, currency="eur").items} == {"EUR"}


def test_the_last_closing_balance_is_the_balance_and_other_years_follow_on(engine, year_2025):
    december = [r for r in report(engine, year_2025, 2025).items if r.period == "2025-12"]
    assert [(r.currency, r.closing) for r in december] == [("USD", D("370.00"))]
    opening_2024 = rows_of(report(engine, year_2025, 2024, "yearly"))
    assert opening_2024 == [("2024", "USD", "0.00", "100.00", "0.00", "0.00", "100.00")]
    assert report(engine, year_2025, 2023).items == []
    assert report(engine, year_2025, date.today().year + 1).items == []
    with Session(engine) as s:
        usd = book.balances(s, year_2025.user_id)["USD"]
    assert usd["available"] + usd["held"] == D("371.00")  # 370.00 and the 1.00 of 2026


def test_a_statement_shows_only_the_callers_money(engine, year_2025):
    stranger = make_user(engine)
    assert report(engine, stranger, 2025).items == []
