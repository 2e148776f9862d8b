"""Portfolios on a real database: valuation, the equity curve rebuilt from the ledger, analytics, rebalancing.

The history of an account is made through the real services (deposit, trades, withdrawal) and then
moved into the past: journal_entries.created_at may be updated (the ledger's triggers guard the
postings and the balances, not the time an entry is dated), so each step's entries are re-dated to
a past day, and the prices of past days are imported as daily candles with `market.import`.
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.actor import Actor, Role
from du_core.errors import InvalidInput, InvalidState, NotFound, PermissionDenied
from du_core.market.schemas import ImportCandles
from du_core.payments.schemas import Deposit, Withdraw
from du_core.portfolio import curve, valuation
from du_core.portfolio.schemas import PeriodQuery, RebalanceRequest, UpdateHolding
from du_core.trading.schemas import PlaceOrder
from tests.integration.trading_helpers import balances, call, trader, verify

D = Decimal
UTC = timezone.utc
TODAY = datetime.now(UTC).date()


def day(n: int) -> date:
    """The day n days before today (UTC)."""
    return TODAY - timedelta(days=n)


def entries_of(engine, actor: Actor) -> set[uuid.UUID]:
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT DISTINCT p.entry_id FROM postings p JOIN ledger_accounts a ON a.id = p.account_id"
            " WHERE a.owner_id = :u"), {"u": actor.user_id}).scalars())


def dated(engine, actor: Actor, when: date, work):
    """Run `work()` and date the journal entries it made on the actor's accounts to noon of `when`."""
    before = entries_of(engine, actor)
    result = work()
    made = entries_of(engine, actor) - before
    with engine.begin() as conn:
        conn.execute(text("UPDATE journal_entries SET created_at = :at WHERE id = ANY(:ids)"),
                     {"at": datetime.combine(when, time(12), tzinfo=UTC), "ids": list(made)})
    return result


def import_closes(engine, admin: Actor, symbol: str, closes: dict[date, str]) -> None:
    rows = "".join(f"{d.isoformat()},{c},{c},{c},{c},1\n" for d, c in sorted(closes.items()))
    call(engine, admin, "market.import", ImportCandles, symbol=symbol, interval="1d",
         data="date,open,high,low,close,volume\n" + rows)


def place(engine, actor, **fields):
    fields.setdefault("symbol", "BTC-USD")
    return call(engine, actor, "trading.place", PlaceOrder, **fields)


@pytest.fixture
def history(engine):
    """An account that deposits 10000 USD (day -4), buys 0.1 BTC at 50000 (day -3, fee 10.00) and
    withdraws 1000 USD (day -1); BTC closes 48000, 50000, 52000, 51000 on days -4..-1 and 51500 today."""
    admin = trader(engine, role=Role.admin)
    user = trader(engine, kyc=2)
    maker = trader(engine, BTC="1")
    other = trader(engine, USD="10000.00")
    dated(engine, user, day(4), lambda: call(engine, user, "financial.deposit", Deposit, amount="10000",
                                             currency="USD", method="sandbox"))
    place(engine, maker, side="sell", quantity="0.1", price="50000")
    dated(engine, user, day(3), lambda: place(engine, user, side="buy", type="market", quantity="0.1"))
    dated(engine, user, day(1), lambda: call(engine, user, "financial.withdraw", Withdraw, amount="1000",
                                             currency="USD", method="sandbox", destination="VN12 3456 7890"))
    place(engine, maker, side="sell", quantity="0.01", price="51500")
    place(engine, other, side="buy", type="market", quantity="0.01")
    import_closes(engine, admin, "BTC-USD", {day(4): "48000", day(3): "50000", day(2): "52000", day(1): "51000"})
    return user


def test_the_equity_curve_equals_the_hand_computed_values_and_the_twr_ignores_the_deposit(engine, history):
    assert balances(engine, history) == {"BTC": {"available": D("0.1"), "held": 0},
                                         "USD": {"available": D("3990.00"), "held": 0}}
    view = call(engine, history, "portfolio.performance", PeriodQuery, period="1m")
    points = [(p.date, p.value, p.flow) for p in view.points]
    assert points == [
        (day(4), D("10000.00"), D("10000.00")),  # the deposit: a flow, not performance
        (day(3), D("9990.00"), D("0.00")),  # 4990 cash + 0.1 x 50000 (the 10.00 fee is the loss)
        (day(2), D("10190.00"), D("0.00")),  # 4990 + 0.1 x 52000
        (day(1), D("9090.00"), D("-1000.00")),  # 3990 + 0.1 x 51000, after withdrawing 1000
        (TODAY, D("9140.00"), D("0.00")),  # 3990 + 0.1 x 51500 (today's last trade)
    ]
    expected_returns = [None, 9990 / 10000 - 1, 10190 / 9990 - 1, 10090 / 10190 - 1, 9140 / 9090 - 1]
    for got, want in zip([p.return_ for p in view.points], expected_returns, strict=True):
        assert (got is None and want is None) or got == pytest.approx(want, rel=1e-12)
    twr = (10090 / 10000) * (9140 / 9090) - 1  # the deposit and the withdrawal move no return
    assert view.time_weighted_return == pytest.approx(twr, rel=1e-12)
    assert (view.start, view.start_value, view.end_value) == (day(4), D("0.00"), D("9140.00"))
    assert (view.deposits, view.withdrawals, view.net_flows, view.profit) == (
        D("10000.00"), D("1000.00"), D("9000.00"), D("140.00"))
    # money-weighted: -10000 x^4 + 1000 x + 9140 = 0 with x = 1 + the daily rate (flows at the end of their day)
    x = 1 + math.expm1(math.log1p(view.money_weighted_return) / 4)
    assert -10000 * x**4 + 1000 * x + 9140 == pytest.approx(0, abs=1e-6)
    assert view.money_weighted_return_annualised == pytest.approx(x**365 - 1, rel=1e-9)
    assert view.reasons == {}
    dumped = view.model_dump(mode="json")
    assert dumped["points"][1] == {"date": day(3).isoformat(), "value": "9990.00", "flow": "0.00",
                                   "return": pytest.approx(-0.001, rel=1e-12)}


def test_a_shorter_period_opens_at_the_previous_days_value(engine, history):
    with Session(engine) as s:
        built = curve.build(s, history.user_id, start=day(2), end=TODAY, base="USD")
    assert built.opening == D("9990.00")
    assert built.values == [D("10190.00"), D("9090.00"), D("9140.00")]
    assert built.returns[0] == pytest.approx(10190 / 9990 - 1, rel=1e-12)


def test_daily_closes_give_every_day_in_the_base_currency_forward_filled(engine, history):
    with Session(engine) as s:
        held = valuation.value(s, history.user_id)
        frame = valuation.daily_closes(s, held.holdings, start=day(6), end=TODAY, base="USD")
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "date"
    assert list(frame.columns) == ["BTC", "USD"]
    assert list(frame.index.date) == [day(n) for n in range(6, -1, -1)]  # cash prices every day
    assert frame["BTC"].isna().tolist() == [True, True, False, False, False, False, False]
    assert frame["BTC"].dropna().tolist() == [48000.0, 50000.0, 52000.0, 51000.0, 51500.0]
    assert set(frame["USD"]) == {1.0}


def test_daily_closes_convert_at_the_rate_of_each_day(engine, history):
    with engine.begin() as conn:
        for when, rate in ((day(10), "0.5"), (day(2), "0.8")):
            conn.execute(text("INSERT INTO fx_rates (id, base, quote, rate, source, as_of)"
                              " VALUES (:i, 'EUR', 'USD', :r, 'admin', :at)"),
                         {"i": uuid.uuid4(), "r": D(rate), "at": datetime.combine(when, time(9), tzinfo=UTC)})
    with Session(engine) as s:
        held = valuation.value(s, history.user_id, base="EUR")
        frame = valuation.daily_closes(s, held.holdings, start=day(3), end=TODAY, base="EUR")
        assert held.total == D("11425.00")  # (3990 + 0.1 x 51500) x 1.25
    # 1 EUR = 0.5 USD until day -2, then 0.8: 1 USD = 2 EUR, then 1.25 EUR
    assert frame["USD"].tolist() == [2.0, 1.25, 1.25, 1.25]
    assert frame["BTC"].tolist() == [100000.0, 65000.0, 63750.0, 64375.0]


def test_daily_closes_of_a_symbol_imported_by_the_hour_are_each_days_last_close(engine):
    admin = trader(engine, role=Role.admin)
    user = trader(engine)
    hours = [(day(2), 10, "10.5"), (day(2), 15, "11.25"), (day(1), 9, "12")]
    rows = "".join(f"{d.isoformat()}T{h:02d}:00:00Z,{c},{c},{c},{c},1\n" for d, h, c in hours)
    call(engine, admin, "market.import", ImportCandles, symbol="ACME", interval="1h",
         data="time,open,high,low,close,volume\n" + rows)
    call(engine, user, "portfolio.holdings_update", UpdateHolding, symbol="ACME", quantity="3", average_cost="10")
    with Session(engine) as s:
        held = valuation.value(s, user.user_id)
        frame = valuation.daily_closes(s, held.holdings, start=day(3), end=TODAY, base="USD")
        exact = valuation.daily_prices(s, held.holdings, days=valuation.calendar(day(3), TODAY), base="USD")
    assert held.total == D("36.00")
    assert frame["ACME"].tolist() == [11.25, 12.0, 12.0] and list(frame.index.date) == [day(2), day(1), TODAY]
    assert exact["ACME"] == [None, D("11.25"), D("12"), D("12")]


def test_a_holding_that_cannot_be_priced_is_unvalued_with_a_reason_never_zero(engine):
    user = trader(engine, USD="100.00", ETH="2")
    with Session(engine) as s:
        held = valuation.value(s, user.user_id)
        in_eur = valuation.value(s, user.user_id, base="EUR")
    eth = next(h for h in held.holdings if h.symbol == "ETH")
    assert (eth.price, eth.value, eth.price_symbol) == (None, None, "ETH-USD")
    assert eth.reason == "no trade or candle of ETH-USD yet"
    assert (held.total, held.unvalued) == (D("100.00"), ["ETH"])
    assert in_eur.unvalued == ["ETH", "USD"] and in_eur.total == 0
    assert next(h for h in in_eur.holdings if h.symbol == "USD").reason == "no exchange rate from USD to EUR"


def test_external_holdings_are_priced_from_imported_candles_in_their_currency(engine):
    admin = trader(engine, role=Role.admin)
    user = trader(engine, USD="1000.00")
    import_closes(engine, admin, "AAPL", {day(3): "180.50", day(2): "182.25"})
    recorded = call(engine, user, "portfolio.holdings_update", UpdateHolding, symbol="aapl", quantity="10",
                    average_cost="150.10", note="at my broker")
    assert (recorded.symbol, recorded.quantity, recorded.average_cost, recorded.currency) == (
        "AAPL", D("10"), D("150.10"), "USD")
    view = call(engine, user, "portfolio.holdings")
    aapl = next(h for h in view.items if h.symbol == "AAPL")
    assert (aapl.source, aapl.kind, aapl.price, aapl.value, aapl.cost, aapl.unrealised_pnl) == (
        "external", "security", D("182.25"), D("1822.50"), D("1501.00"), D("321.50"))
    assert view.total_value == D("2822.50") and aapl.weight == pytest.approx(1822.5 / 2822.5)
    with engine.connect() as conn:
        audit = conn.execute(text("SELECT target_id, new_values FROM audit_trails WHERE action ="
                                  " 'portfolio.holdings_update'")).one()
    assert audit.target_id == "AAPL" and audit.new_values["quantity"] == "10"
    removed = call(engine, user, "portfolio.holdings_update", UpdateHolding, symbol="AAPL", quantity="0")
    assert removed.removed and [h.symbol for h in call(engine, user, "portfolio.holdings").items] == ["USD"]
    with pytest.raises(NotFound):
        call(engine, user, "portfolio.holdings_update", UpdateHolding, symbol="AAPL", quantity="0")


def test_an_external_cost_recorded_in_another_currency_is_converted_to_the_price_currency(engine, market):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO fx_rates (id, base, quote, rate, source, as_of)"
                          " VALUES (:i, 'EUR', 'USD', 1.25, 'admin', now())"), {"i": uuid.uuid4()})
    user = trader(engine)
    call(engine, user, "portfolio.holdings_update", UpdateHolding, symbol="BTC", quantity="0.1",
         average_cost="32000", currency="EUR")
    [btc] = call(engine, user, "portfolio.holdings").items
    assert (btc.currency, btc.average_cost, btc.value, btc.cost, btc.unrealised_pnl) == (
        "USD", D("40000"), D("5000.00"), D("4000.00"), D("1000.00"))


@pytest.mark.parametrize("fields,message", [
    ({"symbol": "NOPE", "quantity": "1", "average_cost": "1"}, "unknown symbol NOPE"),
    ({"symbol": "BTC", "quantity": "-1", "average_cost": "1"}, "quantity must be plain digits"),
    ({"symbol": "BTC", "quantity": "0.123456789", "average_cost": "1"}, "more than 8 decimal places"),
    ({"symbol": "BTC", "quantity": "1", "average_cost": "-5"}, "average_cost must be plain digits"),
    ({"symbol": "BTC", "quantity": "1"}, "average cost is needed"),
    ({"symbol": "BTC", "quantity": "1", "average_cost": "1", "currency": "XXX"}, "unknown currency"),
    ({"symbol": "$BTC", "quantity": "1", "average_cost": "1"}, "symbol"),
])
def test_a_bad_holding_update_is_refused(engine, fields, message):
    user = trader(engine)
    with pytest.raises(InvalidInput, match=message.replace("$", r"\$")):
        call(engine, user, "portfolio.holdings_update", UpdateHolding, **fields)


def test_a_read_only_user_may_look_but_not_record_holdings(engine):
    user = trader(engine, role=Role.read_only, USD="10.00")
    assert call(engine, user, "portfolio.holdings").total_value == D("10.00")
    with pytest.raises(PermissionDenied):
        call(engine, user, "portfolio.holdings_update", UpdateHolding, symbol="BTC", quantity="1", average_cost="1")


def test_overview_and_analytics_of_the_history(engine, history):
    view = call(engine, history, "portfolio.overview")
    assert (view.total_value, view.cash_value, view.invested_value, view.external_value) == (
        D("9140.00"), D("3990.00"), D("5150.00"), D("0.00"))
    assert (view.realised_pnl, view.unrealised_pnl, view.fees_paid.total, view.open_orders) == (
        D("0.00"), D("150.00"), D("10.00"), 0)
    assert view.change_24h == D("50.00")  # BTC from 51000 (the last close before 24 hours ago) to 51500
    assert view.change_24h_percent == pytest.approx(50 / 9090)
    stats = call(engine, history, "portfolio.analytics", PeriodQuery, period="1m")
    assert [(r.key, r.value) for r in stats.by_asset] == [("BTC", D("5150.00")), ("USD", D("3990.00"))]
    assert [r.key for r in stats.by_kind] == ["asset", "cash"]
    w = [5150 / 9140, 3990 / 9140]
    assert stats.concentration.largest == "BTC"
    assert stats.concentration.herfindahl == pytest.approx(w[0] ** 2 + w[1] ** 2)
    assert stats.average_equity == D("9682.00")  # (10000 + 9990 + 10190 + 9090 + 9140) / 5
    assert stats.traded_volume == D("5000.00") and stats.turnover == pytest.approx(5000 / 9682)
    # the price effect on 0.1 BTC: +200 (50000 -> 52000), -100, +50; the 10.00 fee is not a price effect
    assert [(c.symbol, c.contribution) for c in stats.best] == [("BTC", D("150.00"))] and stats.worst == []
    [btc] = stats.pnl_by_instrument
    assert (btc.symbol, btc.realised_pnl, btc.unrealised_pnl, btc.fees, btc.net_pnl_base) == (
        "BTC-USD", D("0.00"), D("150.00"), D("10.00"), D("140.00"))


def test_no_history_gives_nulls_and_reasons_not_an_error(engine):
    user = trader(engine)
    view = call(engine, user, "portfolio.performance", PeriodQuery, period="all")
    assert view.points == [] and view.time_weighted_return is None and view.money_weighted_return is None
    assert "no history" in view.reasons["time_weighted_return"]
    one_day = trader(engine, USD="5.00")
    view = call(engine, one_day, "portfolio.performance", PeriodQuery, period="1y")
    assert [p.value for p in view.points] == [D("5.00")] and view.time_weighted_return is None
    assert "two consecutive days" in view.reasons["time_weighted_return"]
    stats = call(engine, user, "portfolio.analytics", PeriodQuery, period="1m")
    assert stats.turnover is None and stats.concentration.herfindahl is None and stats.reasons


# rebalancing

@pytest.fixture
def market(engine):
    """BTC-USD last traded at 50000 with sellers and buyers resting around it."""
    maker = trader(engine, BTC="5")
    bidder = trader(engine, USD="500000.00")
    place(engine, maker, side="sell", quantity="0.01", price="50000")
    place(engine, bidder, side="buy", type="market", quantity="0.01")
    place(engine, maker, side="sell", quantity="2", price="50000")
    place(engine, bidder, side="buy", quantity="2", price="49990")
    return maker


def landed(plan, prices: dict[str, Decimal], lots: dict[str, Decimal]) -> None:
    """Filled at the shown prices, every asset ends within one lot of its target quantity."""
    for leg in plan.legs:
        assert leg.price == prices[leg.asset]
        assert abs(leg.expected_quantity - leg.target_quantity) < lots[leg.asset]


def test_a_plan_lands_within_one_lot_of_the_targets_and_executing_it_twice_places_it_once(engine, market):
    user = trader(engine, USD="10001.37")
    plan = call(engine, user, "portfolio.rebalance", RebalanceRequest, targets={"BTC": "0.5", "usd": "0.5"})
    [leg] = plan.legs
    assert (leg.side, leg.quantity, leg.price, leg.skipped) == ("buy", D("0.1000"), D("50000.00"), None)
    assert leg.target_quantity == D("0.1000137")  # 0.5 x 10001.37 / 50000
    landed(plan, {"BTC": D("50000")}, {"BTC": D("0.0001")})
    assert not plan.executed and plan.orders == []
    done = call(engine, user, "portfolio.rebalance", RebalanceRequest, targets={"BTC": "0.5", "USD": "0.5"},
                execute=True, idempotency_key="rb-1")
    [order] = done.orders
    assert (order.side, order.type, order.status, order.filled) == ("buy", "market", "filled", D("0.1"))
    again = call(engine, user, "portfolio.rebalance", RebalanceRequest, targets={"BTC": "0.5", "USD": "0.5"},
                 execute=True, idempotency_key="rb-1")
    assert [o.id for o in again.orders] == [order.id]
    assert balances(engine, user)["BTC"]["available"] == D("0.1")
    after = call(engine, user, "portfolio.rebalance", RebalanceRequest, targets={"BTC": "0.5", "USD": "0.5"})
    assert [leg.skipped for leg in after.legs] == ["within one lot of the target already"]
    assert verify(engine).ok


def test_sells_come_before_buys_and_a_small_leg_is_skipped_with_its_reason(engine, market):
    user = trader(engine, USD="1000.00", BTC="0.05", ETH="1")
    seller = trader(engine, ETH="1")
    place(engine, seller, side="sell", quantity="1", price="2000", symbol="ETH-USD")
    buyer = trader(engine, USD="10000.00")
    place(engine, buyer, side="buy", type="market", quantity="0.5", symbol="ETH-USD")  # ETH last 2000
    # total 1000 + 2500 + 2000 = 5500: BTC 0.2 -> 1100 (sell 1400 = 0.028), ETH 0.4 -> 2200 (buy 0.1),
    # USD is the rest
    plan = call(engine, user, "portfolio.rebalance", RebalanceRequest,
                targets={"BTC": "0.2", "ETH": "0.4", "USD": "0.4"})
    assert [(leg.asset, leg.side, leg.quantity) for leg in plan.legs] == [
        ("BTC", "sell", D("0.0280")), ("ETH", "buy", D("0.100"))]
    landed(plan, {"BTC": D("50000.00"), "ETH": D("2000.00")}, {"BTC": D("0.0001"), "ETH": D("0.001")})
    tiny = call(engine, user, "portfolio.rebalance", RebalanceRequest,
                targets={"BTC": "0.4555", "ETH": "0.3637", "USD": "0.1808"})
    assert [leg.skipped for leg in tiny.legs] == ["order value below the minimum of 10 USD",
                                                  "within one lot of the target already"]
    executed = call(engine, user, "portfolio.rebalance", RebalanceRequest,
                    targets={"BTC": "0.2", "ETH": "0.4", "USD": "0.4"}, execute=True)
    assert [(o.symbol, o.side, o.status) for o in executed.orders] == [("BTC-USD", "sell", "filled"),
                                                                       ("ETH-USD", "buy", "filled")]
    assert verify(engine).ok


@pytest.mark.parametrize("targets,error,message", [
    ({"BTC": "0.5", "USD": "0.4"}, InvalidInput, "target weights sum to 0.9, not 1"),
    ({"BTC": "0.6", "USD": "0.6"}, InvalidInput, "sum to 1.2"),
    ({"BTC": "1e0"}, InvalidInput, "plain decimal"),
    ({"DOGE": "1"}, InvalidInput, "unknown asset DOGE"),
    ({"USDT": "0.5", "USD": "0.5"}, InvalidInput, "USDT cannot be traded here"),
    ({"BTC": "0.5", "EUR": "0.5"}, InvalidInput, "the cash target must be USD"),
    ({"ETH": "0.5", "USD": "0.5"}, InvalidState, "no price for ETH-USD"),
])
def test_a_rebalance_that_cannot_be_planned_says_why(engine, market, targets, error, message):
    user = trader(engine, USD="1000.00")
    with pytest.raises(error, match=message):
        call(engine, user, "portfolio.rebalance", RebalanceRequest, targets=targets)


def test_a_read_only_user_may_plan_but_not_execute(engine, market):
    user = trader(engine, role=Role.read_only, USD="1000.00")
    assert call(engine, user, "portfolio.rebalance", RebalanceRequest, targets={"BTC": "1"}).legs
    with pytest.raises(PermissionDenied):
        call(engine, user, "portfolio.rebalance", RebalanceRequest, targets={"BTC": "1"}, execute=True)
    assert balances(engine, user) == {"USD": {"available": D("1000.00"), "held": 0}}
