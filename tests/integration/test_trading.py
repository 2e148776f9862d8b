"""The exchange on a real database: matching, settlement in the ledger, stops, rules and limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from du_core.actor import Role
from du_core.errors import (
    InsufficientFunds, InvalidInput, InvalidState, KycRequired, PermissionDenied, RiskLimit, TradingDisabled,
)
from du_core.trading.schemas import BookRequest, ModifyOrder, OrderRef, PlaceOrder, SymbolRequest
from tests.integration.trading_helpers import balances, call, fees_total, trader, verify

D = Decimal


def place(engine, actor, **fields):
    fields.setdefault("symbol", "BTC-USD")
    return call(engine, actor, "trading.place", PlaceOrder, **fields)


def test_a_market_buy_fills_against_a_resting_sell_and_settles_exactly(engine):
    a = trader(engine, BTC="1")
    b = trader(engine, USD="100000.00")
    sell = place(engine, a, side="sell", type="limit", quantity="1", price="50000")
    assert sell.status == "open" and sell.held == D("1.00000000")
    buy = place(engine, b, side="buy", type="market", quantity="0.4")
    assert buy.status == "filled" and buy.filled == D("0.4") and buy.average_price == D("50000")
    assert [(f.price, f.quantity, f.liquidity) for f in buy.fills] == [(D("50000.00"), D("0.4000"), "taker")]
    resting = call(engine, a, "trading.order", OrderRef, order_id=sell.id)
    assert resting.status == "partially_filled" and resting.remaining == D("0.6000")
    # 0.4 x 50000 = 20000.00; taker fee 0.20 % = 40.00, maker fee 0.10 % = 20.00
    assert balances(engine, a) == {"BTC": {"available": D(0), "held": D("0.6")},
                                   "USD": {"available": D("19980.00"), "held": D(0)}}
    assert balances(engine, b) == {"BTC": {"available": D("0.4"), "held": D(0)},
                                   "USD": {"available": D("79960.00"), "held": D(0)}}
    assert fees_total(engine, "USD") == D("60.00")
    assert verify(engine).ok


def test_a_limit_buy_reserves_its_worst_case_and_cancel_releases_it(engine):
    b = trader(engine, USD="1000.00")
    order = place(engine, b, side="buy", type="limit", quantity="0.01", price="50000")
    assert order.held == D("501.00")  # 500.00 + 0.20 % (the larger fee rate)
    assert balances(engine, b)["USD"] == {"available": D("499.00"), "held": D("501.00")}
    cancelled = call(engine, b, "trading.cancel", OrderRef, order_id=order.id)
    assert cancelled.status == "cancelled" and cancelled.held == 0
    assert balances(engine, b)["USD"] == {"available": D("1000.00"), "held": D(0)}
    with pytest.raises(InvalidState):
        call(engine, b, "trading.cancel", OrderRef, order_id=order.id)
    assert verify(engine).ok


def test_fok_that_cannot_fill_completely_leaves_no_trade_and_no_resting_order(engine):
    a = trader(engine, BTC="1")
    b = trader(engine, USD="100000.00")
    place(engine, a, side="sell", quantity="0.5", price="50000")
    fok = place(engine, b, side="buy", quantity="1", price="50000", tif="fok")
    assert fok.status == "cancelled" and fok.cancel_reason == "fok" and fok.filled == 0
    assert balances(engine, b)["USD"] == {"available": D("100000.00"), "held": D(0)}
    book = call(engine, b, "trading.orderbook", BookRequest, symbol="BTC-USD")
    assert [(lv.price, lv.quantity) for lv in book.asks] == [(D("50000.00"), D("0.5000"))] and not book.bids


def test_ioc_leaves_nothing_resting(engine):
    a = trader(engine, BTC="1")
    b = trader(engine, USD="100000.00")
    place(engine, a, side="sell", quantity="0.5", price="50000")
    ioc = place(engine, b, side="buy", quantity="1", price="50000", tif="ioc")
    assert ioc.status == "cancelled" and ioc.cancel_reason == "ioc" and ioc.filled == D("0.5")
    book = call(engine, b, "trading.orderbook", BookRequest, symbol="BTC-USD")
    assert not book.asks and not book.bids
    assert balances(engine, b)["USD"]["held"] == 0
    assert verify(engine).ok


def test_a_stop_order_fires_when_a_trade_crosses_it(engine):
    a = trader(engine, BTC="2")
    b = trader(engine, USD="200000.00")
    c = trader(engine, BTC="1")
    stop = place(engine, c, side="sell", type="stop", quantity="0.5", stop_price="49000")
    assert stop.status == "pending_trigger" and stop.held == D("0.5")
    place(engine, b, side="buy", quantity="1", price="48000")  # the stop will sell into this bid
    place(engine, a, side="sell", quantity="0.1", price="49000")
    trade = place(engine, b, side="buy", type="market", quantity="0.1")  # trades at 49000: crosses the stop
    assert trade.status == "filled"
    fired = call(engine, c, "trading.order", OrderRef, order_id=stop.id)
    assert fired.status == "filled" and fired.fills[0].price == D("48000.00")
    assert balances(engine, c)["BTC"] == {"available": D("0.5"), "held": D(0)}
    assert verify(engine).ok


def test_reducing_quantity_keeps_priority_and_repricing_loses_it(engine):
    a1 = trader(engine, BTC="1")
    a2 = trader(engine, BTC="1")
    b = trader(engine, USD="100000.00")
    first = place(engine, a1, side="sell", quantity="0.5", price="50000")
    place(engine, a2, side="sell", quantity="0.5", price="50000")
    call(engine, a1, "trading.modify", ModifyOrder, order_id=first.id, quantity="0.3")
    buy = place(engine, b, side="buy", type="market", quantity="0.1")
    assert buy.fills and call(engine, a1, "trading.order", OrderRef, order_id=first.id).filled == D("0.1")
    call(engine, a1, "trading.modify", ModifyOrder, order_id=first.id, price="50001")
    call(engine, a1, "trading.modify", ModifyOrder, order_id=first.id, price="50000")  # back of the queue
    place(engine, b, side="buy", type="market", quantity="0.1")
    assert call(engine, a1, "trading.order", OrderRef, order_id=first.id).filled == D("0.1")
    assert balances(engine, a1)["BTC"]["held"] == D("0.2")
    assert verify(engine).ok


def test_self_trade_prevention_cancels_the_newest_by_default(engine):
    a = trader(engine, BTC="1", USD="100000.00")
    place(engine, a, side="sell", quantity="0.5", price="50000")
    buy = place(engine, a, side="buy", quantity="0.5", price="50000")
    assert buy.status == "cancelled" and buy.cancel_reason == "self_trade" and buy.filled == 0
    assert verify(engine).ok


def test_rules_are_named_when_broken(engine):
    b = trader(engine, USD="1000.00")
    with pytest.raises(InvalidInput) as err:
        place(engine, b, side="buy", quantity="0.00015", price="50000")
    assert err.value.details["rule"] == "lot_size" or err.value.details.get("field") == "quantity"
    with pytest.raises(InvalidInput) as err:
        place(engine, b, side="buy", quantity="0.001", price="50000.005")
    with pytest.raises(InvalidInput) as err:
        place(engine, b, side="buy", quantity="0.0001", price="50000")
    assert err.value.details["rule"] == "min_notional"
    with pytest.raises(InvalidInput):
        place(engine, b, side="buy", type="market", quantity="0.001", price="50000")


def test_orders_need_kyc_funds_and_an_open_market(engine):
    with pytest.raises(KycRequired):
        place(engine, trader(engine, kyc=0, USD="100.00"), side="buy", quantity="0.001", price="50000")
    with pytest.raises(PermissionDenied):
        place(engine, trader(engine, role=Role.read_only, USD="100.00"), side="buy", quantity="0.001", price="50000")
    poor = trader(engine, USD="10.00")
    with pytest.raises(InsufficientFunds):
        place(engine, poor, side="buy", quantity="0.001", price="50000")
    assert balances(engine, poor)["USD"] == {"available": D("10.00"), "held": D(0)}
    admin = trader(engine, role=Role.admin)
    from du_core.trading.schemas import UpdateInstrument

    call(engine, admin, "admin.instruments_update", UpdateInstrument, symbol="BTC-USD", status="halted")
    rich = trader(engine, USD="1000.00")
    with pytest.raises(TradingDisabled):
        place(engine, rich, side="buy", quantity="0.001", price="50000")


def test_risk_limits_refuse_large_orders_and_too_many(engine, du):
    from tests.conftest import sql

    sql(du, "INSERT INTO platform_settings (key, value) VALUES ('max_open_orders', '2'),"
            " ('max_order_notional', '\"1000\"')")
    b = trader(engine, USD="100000.00")
    with pytest.raises(RiskLimit):
        place(engine, b, side="buy", quantity="0.1", price="50000")
    place(engine, b, side="buy", quantity="0.001", price="40000")
    place(engine, b, side="buy", quantity="0.001", price="40000")
    with pytest.raises(RiskLimit):
        place(engine, b, side="buy", quantity="0.001", price="40000")


def test_client_order_id_repeats_return_the_original_order(engine):
    b = trader(engine, USD="1000.00")
    first = place(engine, b, side="buy", quantity="0.001", price="40000", client_order_id="mine-1")
    again = place(engine, b, side="buy", quantity="0.001", price="40000", client_order_id="mine-1")
    assert again.id == first.id
    assert balances(engine, b)["USD"]["held"] == first.held


def test_positions_track_average_cost_and_realised_pnl(engine):
    a = trader(engine, BTC="2")
    b = trader(engine, USD="200000.00")
    place(engine, a, side="sell", quantity="1", price="50000")
    place(engine, b, side="buy", type="market", quantity="1")
    place(engine, a, side="sell", quantity="1", price="52000")
    place(engine, b, side="buy", type="market", quantity="1")
    place(engine, b, side="sell", quantity="1", price="55000")
    place(engine, a, side="buy", type="market", quantity="1") if False else None
    p = call(engine, b, "trading.position", SymbolRequest, symbol="BTC-USD")
    assert p.quantity == D("2") and p.average_cost == D("51000")
    c = trader(engine, USD="100000.00")
    place(engine, c, side="buy", type="market", quantity="1")
    p = call(engine, b, "trading.position", SymbolRequest, symbol="BTC-USD")
    assert p.quantity == D("1") and p.realised_pnl == D("4000.00") and p.average_cost == D("51000")
    assert verify(engine).ok


def test_market_data_shows_the_last_trade_the_day_and_the_best_prices(engine):
    a = trader(engine, BTC="1")
    b = trader(engine, USD="100000.00")
    place(engine, a, side="sell", quantity="0.5", price="50000")
    place(engine, a, side="sell", quantity="0.5", price="50100")
    place(engine, b, side="buy", quantity="0.1", price="49000")
    place(engine, b, side="buy", type="market", quantity="0.6")
    data = call(engine, b, "trading.market_data", SymbolRequest, symbol="BTC-USD")
    assert (data.last, data.bid, data.ask) == (D("50100.00"), D("49000.00"), D("50100.00"))
    assert data.high_24h == D("50100.00") and data.low_24h == D("50000.00") and data.volume_24h == D("0.6")
    assert data.trades_24h == 2 and data.spread == D("1100.00")


def test_a_sweep_of_many_makers_is_announced_in_full_with_one_sequence_number(engine, db_url):
    import json

    import psycopg

    makers = [trader(engine, BTC="0.01") for _ in range(45)]
    for i, maker in enumerate(makers):
        place(engine, maker, side="sell", quantity="0.001", price=str(50000 + i))
    taker = trader(engine, USD="10000.00")
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as listener:
        listener.execute("LISTEN du_market")
        place(engine, taker, side="buy", type="market", quantity="0.045")
        notices = [json.loads(n.payload) for n in listener.notifies(timeout=2, stop_after=3)]
    trades = [n for n in notices if n["topic"] == "trades"]
    book = [n for n in notices if n["topic"] == "book"]
    assert len(book) == 1 and len(trades) == 2 and {n["seq"] for n in notices} == {book[0]["seq"]}
    assert sum(len(n["trades"]) for n in trades) == 45
    assert book[0]["changes"][0] == ["sell", "50000.00", "0.0000"]


def test_a_market_order_above_the_notional_limit_is_refused_after_matching_and_changes_nothing(engine, du):
    from tests.conftest import sql

    sql(du, "INSERT INTO platform_settings (key, value) VALUES ('max_order_notional', '\"10000\"')")
    a = trader(engine, BTC="1")
    b = trader(engine, USD="100000.00")
    place(engine, a, side="sell", quantity="0.1", price="50000")  # 5000: within the limit
    place(engine, a, side="sell", quantity="0.1", price="50010")
    place(engine, a, side="sell", quantity="0.1", price="50020")
    with pytest.raises(RiskLimit):  # no last price yet: the order's value is known only once matched
        place(engine, b, side="buy", type="market", quantity="0.3")
    assert balances(engine, b)["USD"] == {"available": D("100000.00"), "held": D(0)}
    assert len(call(engine, b, "trading.orderbook", BookRequest, symbol="BTC-USD").asks) == 3
