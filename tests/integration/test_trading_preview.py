"""trading.preview: the figures of an order before it is placed are the ones placing it then makes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from du_core.actor import Role
from du_core.errors import PermissionDenied
from du_core.trading.schemas import PlaceOrder
from tests.integration.trading_helpers import balances, call, trader

D = Decimal


def preview(engine, actor, **fields):
    fields.setdefault("symbol", "BTC-USD")
    return call(engine, actor, "trading.preview", PlaceOrder, **fields)


def place(engine, actor, **fields):
    fields.setdefault("symbol", "BTC-USD")
    return call(engine, actor, "trading.place", PlaceOrder, **fields)


def test_a_limit_buy_preview_holds_exactly_what_placing_it_holds_and_places_nothing(engine):
    b = trader(engine, USD="1000.00")
    seen = preview(engine, b, side="buy", type="limit", quantity="0.0123", price="50000.01")
    assert balances(engine, b)["USD"] == {"available": D("1000.00"), "held": D(0)}
    assert call(engine, b, "trading.account").open_orders == 0
    # 0.0123 x 50000.01 = 615.000123 -> 615.00; fee at the larger rate 0.2 % -> 1.23;
    # the hold is rounded up: 615.000123 x 1.002 = 616.230123246 -> 616.24
    assert (seen.notional, seen.fee_rate, seen.fee, seen.hold, seen.hold_asset) == (
        D("615.00"), D("0.002"), D("1.23"), D("616.24"), "USD")
    assert (seen.available, seen.needs, seen.enough, seen.problem, seen.crosses) == (
        D("1000.00"), D("616.24"), True, None, False)
    order = place(engine, b, side="buy", type="limit", quantity="0.0123", price="50000.01")
    assert order.held == seen.hold
    assert balances(engine, b)["USD"] == {"available": D("1000.00") - seen.hold, "held": seen.hold}


def test_a_stop_market_buy_preview_holds_what_the_resting_stop_holds(engine):
    b = trader(engine, USD="10000.00")
    seen = preview(engine, b, side="buy", type="stop", quantity="0.01", stop_price="60000")
    order = place(engine, b, side="buy", type="stop", quantity="0.01", stop_price="60000")
    assert order.status == "pending_trigger"
    assert (seen.price, seen.price_basis, seen.hold) == (D("60000.00"), "stop", order.held)
    assert balances(engine, b)["USD"]["held"] == seen.hold


def test_a_sell_preview_holds_the_quantity_in_the_base_asset(engine):
    a = trader(engine, BTC="0.5")
    seen = preview(engine, a, side="sell", type="stop_limit", quantity="0.2", price="40000", stop_price="41000")
    assert (seen.hold, seen.hold_asset, seen.available, seen.notional) == (
        D("0.2"), "BTC", D("0.5"), D("8000.00"))
    order = place(engine, a, side="sell", type="stop_limit", quantity="0.2", price="40000", stop_price="41000")
    assert order.held == seen.hold


def test_a_market_buy_preview_prices_it_from_the_book_and_holds_nothing(engine):
    a = trader(engine, BTC="1")
    b = trader(engine, USD="100000.00")
    place(engine, a, side="sell", quantity="0.1", price="50000")
    place(engine, a, side="sell", quantity="0.1", price="50100")
    seen = preview(engine, b, side="buy", type="market", quantity="0.2", tif="ioc")
    assert (seen.price, seen.price_basis, seen.notional, seen.fee_rate, seen.fee, seen.hold) == (
        D("50050.00"), "book", D("10010.00"), D("0.002"), D("20.02"), D("0.00"))
    assert seen.needs == D("10030.02")
    order = place(engine, b, side="buy", type="market", quantity="0.2", tif="ioc")
    assert (order.filled, order.fees) == (D("0.2"), seen.fee)
    assert balances(engine, b)["USD"]["available"] == D("100000.00") - seen.needs


@pytest.mark.parametrize("fields, problem", [
    ({"quantity": "0.00005", "price": "50000"}, "quantity must be a multiple of the lot size 0.0001"),
    ({"quantity": "0.01", "price": "50000.005"}, "price must be a multiple of the tick size 0.01"),
    ({"quantity": "0.0001", "price": "50000"}, "order value 5 USD is below the minimum of 10"),
    ({"quantity": "0.01", "price": "50000", "type": "stop_limit"}, "a stop_limit order needs --stop-price"),
    ({"quantity": "0.01", "price": "50000", "type": "market", "tif": "ioc"}, "a market order takes no --price"),
    ({"quantity": "0.01", "price": "50000", "stop_price": "50000"}, "a limit order takes no --stop-price"),
    ({"quantity": "0.01", "stop_price": "50000.001", "type": "stop"},
     "stop price must be a multiple of the tick size 0.01"),
    ({"quantity": "0.01", "price": "50000", "stop_price": "51000", "type": "stop_limit", "post_only": True},
     "post-only applies to limit orders"),
])
def test_a_preview_names_the_rule_the_order_breaks_in_the_words_of_placing_it(engine, fields, problem):
    from du_core.errors import DomainError

    b = trader(engine, USD="1000.00")
    fields = {"side": "buy", "type": "limit", **fields}
    seen = preview(engine, b, **fields)
    assert (seen.problem, seen.problem_code) == (problem, "validation_error")
    with pytest.raises(DomainError) as refused:
        place(engine, b, **fields)
    assert refused.value.message == problem
    assert balances(engine, b)["USD"] == {"available": D("1000.00"), "held": D(0)}


def test_a_preview_says_when_the_balance_is_short_and_placing_it_is_refused(engine):
    from du_core.errors import InsufficientFunds

    b = trader(engine, USD="100.00")
    seen = preview(engine, b, side="buy", quantity="0.01", price="50000")
    assert (seen.needs, seen.available, seen.enough, seen.problem_code) == (
        D("501.00"), D("100.00"), False, "insufficient_funds")
    assert seen.problem == "insufficient funds: 501 USD needed, 100 available"
    with pytest.raises(InsufficientFunds):
        place(engine, b, side="buy", quantity="0.01", price="50000")


def test_a_role_that_may_not_trade_gets_figures_and_the_reason_it_may_not_place(engine):
    viewer = trader(engine, role=Role.read_only, USD="1000.00")
    seen = preview(engine, viewer, side="buy", quantity="0.01", price="50000")
    assert (seen.hold, seen.problem_code) == (D("501.00"), "permission_denied")
    with pytest.raises(PermissionDenied):
        place(engine, viewer, side="buy", quantity="0.01", price="50000")


def test_a_preview_needs_a_login(engine):
    from du_core.errors import AuthRequired

    with pytest.raises(AuthRequired):
        preview(engine, None, side="buy", quantity="0.01", price="50000")


def test_a_preview_names_the_platform_limits_placing_refuses_with_the_same_code_and_details(engine):
    from du_core.admin import settings
    from du_core.errors import DomainError
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        settings.store(s, "max_open_orders", 1, by=None)
        settings.store(s, "max_order_notional", "1000", by=None)
    b = trader(engine, USD="100000.00")
    too_big = {"side": "buy", "quantity": "0.1", "price": "50000"}
    seen = preview(engine, b, **too_big)
    assert (seen.problem, seen.problem_code) == ("order value 5000 USD is above the limit of 1000", "risk_limit")
    with pytest.raises(DomainError) as refused:
        place(engine, b, **too_big)
    assert (refused.value.message, refused.value.details["limit"]) == (seen.problem, "max_order_notional")
    place(engine, b, side="buy", quantity="0.001", price="40000")
    seen = preview(engine, b, side="buy", quantity="0.001", price="40000")
    assert (seen.problem, seen.problem_code) == ("you have the maximum of 1 open orders", "risk_limit")
    with pytest.raises(DomainError) as refused:
        place(engine, b, side="buy", quantity="0.001", price="40000")
    assert (refused.value.message, refused.value.details) == (seen.problem, {"limit": "max_open_orders",
                                                                             "maximum": 1})


def test_a_preview_on_a_halted_instrument_says_what_placing_says(engine):
    from du_core.errors import TradingDisabled
    from du_core.trading.schemas import UpdateInstrument

    admin = trader(engine, role=Role.admin)
    call(engine, admin, "admin.instruments_update", UpdateInstrument, symbol="BTC-USD", status="halted")
    b = trader(engine, USD="1000.00")
    seen = preview(engine, b, side="buy", quantity="0.001", price="50000")
    assert (seen.problem, seen.problem_code) == ("BTC-USD is halted; cancels are still accepted", "trading_disabled")
    with pytest.raises(TradingDisabled) as refused:
        place(engine, b, side="buy", quantity="0.001", price="50000")
    assert refused.value.message == seen.problem


def test_a_smaller_pending_stop_market_holds_what_a_preview_of_that_size_holds(engine):
    from du_core.trading.schemas import ModifyOrder

    b = trader(engine, USD="10000.00")
    order = place(engine, b, side="buy", type="stop", quantity="0.02", stop_price="60000")
    smaller = call(engine, b, "trading.modify", ModifyOrder, order_id=order.id, quantity="0.01")
    seen = preview(engine, b, side="buy", type="stop", quantity="0.01", stop_price="60000")
    assert smaller.status == "pending_trigger"
    assert seen.price_basis == "stop"
    assert D(0) < smaller.held == seen.hold < order.held
    assert balances(engine, b)["USD"]["held"] == seen.hold
