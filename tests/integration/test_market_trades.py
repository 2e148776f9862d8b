"""`market.trades` on a real database: a symbol's newest public trades, spelt as the live feed
spells them, and nothing about who traded."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from du_core.actor import Actor, Role
from du_core.errors import InvalidInput, NotFound
from du_core.market.schemas import TradesQuery
from du_core.trading.schemas import PlaceOrder
from du_core.validation import parse
from tests.integration.trading_helpers import call, trader

D = Decimal


def place(engine, actor, **fields):
    fields.setdefault("symbol", "BTC-USD")
    return call(engine, actor, "trading.place", PlaceOrder, **fields)


def recent(engine, actor: Actor | None = None, **fields: Any):
    return call(engine, actor, "market.trades", TradesQuery, **{"symbol": "BTC-USD", **fields})


def three_trades(engine) -> tuple[Actor, Actor, list[Any]]:
    """A taker buy, a taker sell and another taker buy in BTC-USD; returns the two traders and their orders."""
    seller, buyer = trader(engine, BTC="1"), trader(engine, USD="100000.00")
    orders = [place(engine, seller, side="sell", type="limit", quantity="0.5", price="50000")]
    orders.append(place(engine, buyer, side="buy", type="market", quantity="0.1"))
    orders.append(place(engine, buyer, side="buy", type="limit", quantity="0.2", price="49000.5"))
    orders.append(place(engine, seller, side="sell", type="market", quantity="0.05"))
    orders.append(place(engine, buyer, side="buy", type="market", quantity="0.3"))
    return seller, buyer, orders


def feed_trades(listener: psycopg.Connection, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The first `count` trades the exchange's notifications carried, in the order they came."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        for notice in listener.notifies(timeout=0.2):
            payload = json.loads(notice.payload)
            if payload.get("topic") == "trades":
                found += payload["trades"]
    return found


def test_the_newest_trades_come_first_spelt_exactly_as_the_live_feed_spells_them(engine):
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN du_market")
        three_trades(engine)
        fed = feed_trades(listener, 3)
    assert [(t["price"], t["quantity"], t["taker_side"]) for t in fed] == [
        ("50000.00", "0.1000", "buy"), ("49000.50", "0.0500", "sell"), ("50000.00", "0.3000", "buy")]

    view = recent(engine, Actor.anonymous())
    assert view.symbol == "BTC-USD"
    items = view.model_dump(mode="json")["items"]
    assert [(t["id"], t["price"], t["quantity"], t["taker_side"]) for t in items] == [
        (t["id"], t["price"], t["quantity"], t["taker_side"]) for t in reversed(fed)]
    assert [datetime.fromisoformat(t["at"]) for t in items] == [datetime.fromisoformat(t["at"]) for t in reversed(fed)]
    assert all(set(t) == set(f) for t, f in zip(items, fed))  # the same fields as the feed's trades, no more
    assert items[0]["id"] > items[1]["id"] > items[2]["id"]
    assert all(t.at.tzinfo is not None and abs(t.at - datetime.now(timezone.utc)).total_seconds() < 60
               for t in view.items)


def test_a_trade_says_nothing_of_who_made_it(engine):
    seller, buyer, orders = three_trades(engine)
    view = recent(engine, buyer)
    doc = json.dumps(view.model_dump(mode="json"))
    for secret in (seller.user_id, buyer.user_id, *(o.id for o in orders)):
        assert str(secret) not in doc
    assert [set(t) for t in view.model_dump()["items"]] == [{"id", "at", "price", "quantity", "taker_side"}] * 3


def test_the_limit_keeps_the_newest_and_defaults_to_50(engine):
    three_trades(engine)
    every = recent(engine).items
    two = recent(engine, limit=2).items
    assert [t.id for t in two] == [t.id for t in every[:2]]
    assert [t.id for t in recent(engine, limit=500).items] == [t.id for t in every]
    assert parse(TradesQuery, symbol="BTC-USD").limit == 50


@pytest.mark.parametrize("limit", [0, -1, 501])
def test_a_limit_outside_1_to_500_is_invalid_input(limit):
    with pytest.raises(InvalidInput, match="limit"):
        parse(TradesQuery, symbol="BTC-USD", limit=limit)


def test_only_the_symbols_own_trades_and_the_symbol_is_cleaned(engine):
    three_trades(engine)
    assert len(recent(engine, symbol="  btc-usd ").items) == 3
    assert recent(engine, symbol="eth-usd").model_dump() == {"symbol": "ETH-USD", "items": []}


def test_an_imported_symbol_has_no_trades_and_an_unknown_one_is_not_found(engine):
    with engine.begin() as conn:
        conn.execute(text('INSERT INTO candles (symbol, "interval", start, open, high, low, close, volume, source)'
                          " VALUES ('ACME', '1d', '2026-01-05', 10, 11, 9, 10.5, 1000, 'import')"))
    assert recent(engine, symbol="ACME").model_dump() == {"symbol": "ACME", "items": []}
    with pytest.raises(NotFound, match="NOPE"):
        recent(engine, symbol="NOPE")


@pytest.mark.parametrize("symbol", ["", "BTC/USD", "-BTC", "A" * 25])
def test_a_malformed_symbol_is_invalid_input(symbol):
    with pytest.raises(InvalidInput, match="symbol"):
        parse(TradesQuery, symbol=symbol)


@pytest.mark.parametrize("role", [None, Role.standard, Role.read_only])
def test_anyone_may_read_the_trades_even_without_a_login(engine, role):
    three_trades(engine)
    actor = Actor.anonymous() if role is None else trader(engine, role=role)
    assert [t.price for t in recent(engine, actor).items] == [D("50000.00"), D("49000.50"), D("50000.00")]
