"""The platform dashboard on a real database: its figures are what was done, and only admins see it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from du_core.actor import Role
from du_core.admin.schemas import UpdateSettings
from du_core.errors import AuthRequired, PermissionDenied
from du_core.trading.schemas import PlaceOrder, UpdateInstrument
from tests.integration.trading_helpers import call, fees_total, trader

D = Decimal


def place(engine, actor, **fields):
    fields.setdefault("symbol", "BTC-USD")
    return call(engine, actor, "trading.place", PlaceOrder, **fields)


def dashboard(engine, actor):
    return call(engine, actor, "admin.dashboard")


def backdate_trades(engine, symbol: str, days: int) -> None:
    """Move every trade of `symbol` and its journal entry `days` into the past (behind the platform)."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE journal_entries SET created_at = created_at - make_interval(days => :d)"
                          " WHERE id IN (SELECT entry_id FROM trades WHERE symbol = :s)"), {"d": days, "s": symbol})
        conn.execute(text("UPDATE trades SET created_at = created_at - make_interval(days => :d) WHERE symbol = :s"),
                     {"d": days, "s": symbol})


def test_the_dashboard_counts_the_days_trades_volume_and_fees_by_quote_currency(engine):
    admin = trader(engine, role=Role.admin)
    a = trader(engine, BTC="2", ETH="5")
    b = trader(engine, USD="100000.00", BTC="1")
    # Yesterday's business: an ETH-USD trade moved out of the window must not count.
    place(engine, a, symbol="ETH-USD", side="sell", quantity="1", price="3000")
    place(engine, b, symbol="ETH-USD", side="buy", type="market", quantity="1")
    backdate_trades(engine, "ETH-USD", 2)
    # Today: two BTC-USD fills (15000.00 and 5000.00) and one ETH-BTC fill (0.05 BTC).
    place(engine, a, side="sell", quantity="0.4", price="50000")
    place(engine, b, side="buy", type="market", quantity="0.3")
    place(engine, b, side="buy", quantity="0.1", price="50000")
    place(engine, a, symbol="ETH-BTC", side="sell", quantity="1", price="0.05")
    place(engine, b, symbol="ETH-BTC", side="buy", quantity="1", price="0.05")
    resting = place(engine, b, side="buy", quantity="0.01", price="40000")
    assert resting.status == "open"

    view = dashboard(engine, admin)

    by_quote = {q.quote: (q.trades, q.volume, q.fees) for q in view.trading_24h}
    # maker 0.10 % + taker 0.20 % of each fill's value
    assert by_quote == {"USD": (2, D("20000.00"), D("60.00")), "BTC": (1, D("0.05000000"), D("0.00015000"))}
    # all fees ever earned in USD include yesterday's 9.00; the window holds only today's
    assert fees_total(engine, "USD") == D("69.00")
    assert view.open_orders == 1
    assert {i.symbol: (i.status, i.last_price, i.open_orders) for i in view.instruments} == {
        "BTC-USD": ("trading", D("50000.00"), 1), "ETH-BTC": ("trading", D("0.05000"), 0),
        "ETH-USD": ("trading", D("3000.00"), 0)}
    assert (view.trading_enabled, view.maintenance_mode) == (True, False)
    assert view.since < view.as_of


def test_the_dashboard_counts_accounts_by_status_and_role_and_the_new_ones_of_the_day(engine):
    admin = trader(engine, role=Role.admin)
    trader(engine)
    trader(engine, role=Role.premium)
    old = trader(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET created_at = now() - interval '3 days', status = 'suspended'"
                          " WHERE id = :i"), {"i": old.user_id})

    view = dashboard(engine, admin)

    assert (view.users_total, view.users_new_24h) == (4, 3)
    assert view.users_by_status == {"active": 3, "suspended": 1}
    assert view.users_by_role == {"admin": 1, "premium": 1, "standard": 2}


def test_the_dashboard_shows_a_halted_instrument_and_the_platform_switches(engine):
    admin = trader(engine, role=Role.admin)
    call(engine, admin, "admin.instruments_update", UpdateInstrument, symbol="ETH-USD", status="halted")
    call(engine, admin, "admin.settings_update", UpdateSettings,
         values={"maintenance_mode": "true", "trading_enabled": "false"})

    view = dashboard(engine, admin)  # admins still get through in maintenance

    assert {i.symbol: i.status for i in view.instruments} == {
        "BTC-USD": "trading", "ETH-BTC": "trading", "ETH-USD": "halted"}
    assert (view.trading_enabled, view.maintenance_mode) == (False, True)
    assert [(q.quote, q.trades, q.volume, q.fees) for q in view.trading_24h] == [
        ("BTC", 0, D("0.00000000"), D("0.00000000")), ("USD", 0, D("0.00"), D("0.00"))]


def test_the_dashboards_json_carries_money_as_exact_strings(engine):
    admin = trader(engine, role=Role.admin)
    data = dashboard(engine, admin).model_dump(mode="json")
    assert data["trading_24h"][1] == {"quote": "USD", "trades": 0, "volume": "0.00", "fees": "0.00"}
    assert set(data) == {"as_of", "since", "trading_enabled", "maintenance_mode", "users_total", "users_new_24h",
                         "users_by_status", "users_by_role", "trading_24h", "open_orders", "instruments"}


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.admin])
def test_every_role_but_admin_is_refused_the_dashboard(engine, role):
    with pytest.raises(PermissionDenied):
        dashboard(engine, trader(engine, role=role))


def test_an_anonymous_caller_is_asked_to_log_in(engine):
    with pytest.raises(AuthRequired):
        dashboard(engine, None)


def test_a_refused_dashboard_is_written_to_the_audit_trail(engine):
    standard = trader(engine)
    with pytest.raises(PermissionDenied):
        dashboard(engine, standard)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT action, outcome FROM audit_trails WHERE actor_id = :u"),
                            {"u": standard.user_id}).all()
    assert [tuple(r) for r in rows] == [("admin.dashboard", "denied")]
