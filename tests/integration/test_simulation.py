"""Simulated traders on a real database: real orders through the operations, books that still balance."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.actor import Role
from du_core.admin.schemas import UpdateSettings
from du_core.errors import DatabaseUnavailable, InvalidInput, NotFound, PermissionDenied
from du_core.simulation import SimulationConfig, prepare, simulate
from du_core.simulation.market import FairPrice, Pacer, Rules
from du_core.trading.schemas import OrderQuery
from du_core.validation import parse
from tests.integration.trading_helpers import call, trader, verify

D = Decimal


def rows(engine, statement, **params):
    with Session(engine) as s:
        return s.execute(text(statement), params).all()


@pytest.fixture
def admin(engine):
    return trader(engine, role=Role.admin, kyc=0)


def config(**fields):
    fields = {"duration": 2, "rate": 40, "seed": 7, "makers": 2, "takers": 2, **fields}
    return SimulationConfig(**fields)


def test_a_two_second_run_places_real_orders_that_trade_and_keep_the_books_exact(engine, admin):
    cfg = config()
    traders = prepare(engine, admin, cfg)
    report = simulate(engine, traders, cfg)

    assert report.stopped_by == "duration" and report.error is None
    assert 1.9 < report.seconds < 4
    assert report.placed >= 40 and report.trades > 0 and report.filled + report.partially_filled > 0
    stored = rows(engine, "SELECT count(*) FROM trades")[0][0]
    assert stored == report.trades, "every trade was made by a simulated order, and counted once"
    assert sum(report.volume.values()) > 0 and all(report.last_prices.values())
    assert verify(engine).ok
    assert rows(engine, "SELECT count(*) FROM ledger_accounts WHERE owner_id IS NOT NULL AND balance < 0")[0][0] == 0


def test_each_traders_orders_and_trades_are_its_own(engine, admin):
    cfg = config(duration=1.5)
    traders = prepare(engine, admin, cfg)
    simulate(engine, traders, cfg)
    ids = {t.actor.user_id for t in traders}
    owners = {r[0] for r in rows(engine, "SELECT DISTINCT user_id FROM orders")}
    assert owners <= ids and {t.actor.user_id for t in traders if t.kind == "maker"} <= owners
    assert rows(engine, """SELECT count(*) FROM trades t JOIN orders b ON b.id = t.buy_order_id
                           JOIN orders s ON s.id = t.sell_order_id
                           WHERE b.user_id <> t.buyer_id OR s.user_id <> t.seller_id""")[0][0] == 0
    for t in traders:  # what each one sees through the operations is exactly its rows
        page = call(engine, t.actor, "trading.orders", OrderQuery, limit=200)
        mine = rows(engine, "SELECT count(*) FROM orders WHERE user_id = :u", u=t.actor.user_id)[0][0]
        assert page.total == mine and all(o.symbol in cfg.symbols for o in page.items)


def test_prepare_funds_traders_through_sandbox_deposits_and_is_idempotent(engine, admin):
    cfg = config()
    first = prepare(engine, admin, cfg)
    assert [t.email for t in first] == ["sim-maker-1@sim.example", "sim-maker-2@sim.example",
                                        "sim-taker-1@sim.example", "sim-taker-2@sim.example"]
    assert all(t.created and set(t.deposited) == {"USD", "BTC", "ETH"} for t in first)
    users = rows(engine, "SELECT role, kyc_level, status FROM users WHERE email LIKE '%@sim.example'")
    assert set(users) == {("standard", 1, "active")} and len(users) == 4
    payments = rows(engine, "SELECT gateway, status, count(*) FROM payments GROUP BY 1, 2")
    assert payments == [("sandbox", "completed", 12)]
    entries = rows(engine, "SELECT DISTINCT kind FROM journal_entries")
    assert entries == [("deposit",)], "money came in through deposits only"

    again = prepare(engine, admin, cfg)
    assert [t.actor.user_id for t in again] == [t.actor.user_id for t in first]
    assert not any(t.created or t.deposited for t in again)
    assert rows(engine, "SELECT count(*) FROM payments")[0][0] == 12
    more = prepare(engine, admin, config(makers=3))
    assert [t.created for t in more] == [False, False, True, False, False]


def test_only_an_admin_may_prepare_traders(engine):
    someone = trader(engine, USD="10")
    with pytest.raises(PermissionDenied):
        prepare(engine, someone, config())
    assert rows(engine, "SELECT count(*) FROM users WHERE email LIKE '%@sim.example'")[0][0] == 0


def test_an_unknown_symbol_is_refused_before_anything_is_created(engine, admin):
    with pytest.raises(NotFound):
        prepare(engine, admin, config(symbols=["DOGE-USD"]))
    with pytest.raises(InvalidInput):
        parse(SimulationConfig, makers=0, takers=0)
    with pytest.raises(InvalidInput):
        parse(SimulationConfig, symbols=["BTC-USD", "btc/usd"])


def test_refused_orders_are_counted_by_reason_and_the_run_goes_on(engine, admin):
    call(engine, admin, "admin.settings_update", UpdateSettings, values={"max_open_orders": "3"})
    cfg = config(duration=1.5)
    report = simulate(engine, prepare(engine, admin, cfg), cfg)
    assert report.stopped_by == "duration"
    assert report.rejected.get("risk_limit", 0) > 0 and report.placed > 0
    assert verify(engine).ok


def test_a_database_outage_stops_the_run_cleanly_with_a_message(engine, admin, monkeypatch):
    from du_core.db import runner
    from du_core.simulation import agents

    cfg = config(duration=30)
    traders = prepare(engine, admin, cfg)
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 30:
            raise DatabaseUnavailable("database unreachable at postgresql://…: connection refused")
        return runner.run(*args, **kwargs)

    monkeypatch.setattr(agents, "run", flaky)
    report = simulate(engine, traders, cfg)
    assert report.stopped_by == "database_unavailable" and "connection refused" in report.error
    assert report.seconds < 10 and report.placed > 0


def test_setting_stop_ends_the_run_from_another_thread(engine, admin):
    cfg = config(duration=None)
    traders = prepare(engine, admin, cfg)
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    seen = []
    report = simulate(engine, traders, cfg, stop=stop, progress=seen.append, progress_every=0.25)
    assert report.stopped_by == "stopped" and 0.9 < report.seconds < 3
    assert seen and all(r.stopped_by is None for r in seen), "progress reports the run while it goes"


def test_the_rate_caps_orders_a_second(engine, admin):
    cfg = config(rate=5, duration=2, warm_up=False)
    report = simulate(engine, prepare(engine, admin, cfg), cfg)
    assert 5 <= report.placed <= 12


def test_seeded_history_is_imported_once_and_meets_the_start_price(engine, admin):
    from du_core.simulation.demo import seed_history
    from du_core.simulation.traders import load_rules

    rules = load_rules(engine, ["BTC-USD"])
    first = seed_history(engine, admin, rules, seed=1, days=10)
    assert [(h.interval, h.candles > 0, h.skipped) for h in first] == [("1h", True, None), ("1d", True, None)]
    closes = rows(engine, "SELECT close FROM candles WHERE symbol = 'BTC-USD' AND interval = '1h' "
                          "ORDER BY start DESC LIMIT 1")
    assert closes[0][0] == D("60000")
    again = seed_history(engine, admin, rules, seed=1, days=10)
    assert all(h.candles == 0 and h.skipped == "already imported" for h in again)


# The arithmetic, without a database.

RULES = Rules("BTC-USD", "BTC", "USD", D("0.01"), D("0.0001"), D("0.0001"), D("1000"), D("10"), None)


def test_prices_land_on_the_tick_grid_rounded_away_from_the_fair_price():
    assert RULES.price(60000.016, up=False) == D("60000.01")
    assert RULES.price(60000.011, up=True) == D("60000.02")
    assert RULES.price(0.000001, up=False) == D("0.01"), "never below one tick"


def test_quantities_are_whole_lots_worth_at_least_the_minimum_notional():
    assert RULES.quantity(600.0, D("60000")) == D("0.0100")
    assert RULES.quantity(1.0, D("60000")) == D("0.0002"), "10 USD at 60000 needs 0.000167, rounded up to lots"
    assert RULES.quantity(1e12, D("60000")) == D("1000")


def test_a_seeded_fair_price_walks_the_same_path_and_stays_near_its_start():
    now = [0.0]
    walks = [FairPrice(D("100"), 0.001, seed="s", clock=lambda: now[0]) for _ in range(2)]
    now[0] = 60.0
    assert walks[0].now() == walks[1].now() and 90 < walks[0].now() < 110
    still = FairPrice(D("100"), 0.0, seed="s", clock=lambda: now[0])
    now[0] = 120.0
    assert still.now() == 100.0


def test_the_pacer_spaces_moments_evenly_across_callers():
    now = [0.0]
    pacer = Pacer(10, clock=lambda: now[0])
    stop = threading.Event()
    waits = []
    stop.wait = lambda delay: waits.append(round(delay, 3)) or False  # type: ignore[method-assign]
    for _ in range(3):
        assert pacer.wait(stop)
    assert waits == [0.1, 0.2]
    now[0] = 5.0  # far behind: the next caller goes now, with no backlog to catch up
    assert pacer.wait(stop) and waits == [0.1, 0.2]
