"""Market data on a real database: candles from trades to the last digit, tickers, history,
analysis checked against independent pandas computations, feeds, and imports that are all or nothing."""

from __future__ import annotations

import functools
import http.server
import json
import math
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.actor import Actor, Role
from du_core.db.runner import run
from du_core.errors import AuthRequired, InvalidInput, InvalidState, NotFound, PermissionDenied, Unavailable
from du_core.market import candles, importer
from du_core.market import service as market
from du_core.market.schemas import AnalysisQuery, HistoryQuery, ImportCandles, SymbolQuery
from du_core.validation import parse

D = Decimal
UTC = timezone.utc
DATA = Path(__file__).resolve().parents[1] / "data"
# Seeded random walks, generated once and kept as files: ACME, two years of weekday candles in the
# shape of a Yahoo Finance CSV; XBT, 2024's daily klines as Binance's API returns them.
ACME_CSV = DATA / "market_acme_1d.csv"
XBT_JSON = DATA / "market_xbt_klines.json"
T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a midnight: the start of a bucket of every interval


def make_user(engine, role: str = "standard") -> Actor:
    uid = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, phone, password_hash, role, kyc_level)"
                          " VALUES (:id, :e, :p, 'x', :r, 1)"),
                     {"id": uid, "e": f"{uid.hex[:10]}@example.com", "p": f"+8491{uid.int % 10_000_000:07d}",
                      "r": role})
    return Actor(user_id=uid, role=Role(role), kyc_level=1)


@pytest.fixture
def admin(engine) -> Actor:
    return make_user(engine, "admin")


@pytest.fixture
def user(engine) -> Actor:
    return make_user(engine)


def trade(engine, symbol: str, trades: list[tuple[datetime, str, str]]) -> None:
    """Record trades as the exchange does, in a transaction of their own."""
    with Session(engine) as s, s.begin():
        candles.record_trades(s, symbol, [(at, D(p), D(q)) for at, p, q in trades])


def stored(engine, symbol: str, interval: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            'SELECT start, open, high, low, close, volume, quote_volume, trades, source FROM candles'
            ' WHERE symbol = :s AND "interval" = :i ORDER BY start'), {"s": symbol, "i": interval})]


def candle_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM candles")).scalar()


def at(minutes: float = 0, *, days: int = 0) -> datetime:
    return T0 + timedelta(days=days, minutes=minutes)


# candles from trades

TRADES = [
    (at(10 / 60), "100", "1"),
    (at(50 / 60), "105", "2"),
    (at(1 + 5 / 60), "95", "1"),
    (at(4 + 59 / 60), "101", "0.5"),
    (at(5), "110", "1"),
    (at(239 + 59.999 / 60), "90", "3"),
    (at(240), "120", "1"),
    (at(days=1), "130", "0.1"),
]


def c(minutes: float, o: str, h: str, lo: str, cl: str, v: str, qv: str, n: int, *, days: int = 0) -> tuple:
    return (at(minutes, days=days), D(o), D(h), D(lo), D(cl), D(v), D(qv), n, "trades")


EXPECTED = {  # worked out by hand from TRADES
    "1m": [c(0, "100", "105", "100", "105", "3", "310", 2), c(1, "95", "95", "95", "95", "1", "95", 1),
           c(4, "101", "101", "101", "101", "0.5", "50.5", 1), c(5, "110", "110", "110", "110", "1", "110", 1),
           c(239, "90", "90", "90", "90", "3", "270", 1), c(240, "120", "120", "120", "120", "1", "120", 1),
           c(0, "130", "130", "130", "130", "0.1", "13", 1, days=1)],
    "5m": [c(0, "100", "105", "95", "101", "4.5", "455.5", 4), c(5, "110", "110", "110", "110", "1", "110", 1),
           c(235, "90", "90", "90", "90", "3", "270", 1), c(240, "120", "120", "120", "120", "1", "120", 1),
           c(0, "130", "130", "130", "130", "0.1", "13", 1, days=1)],
    "15m": [c(0, "100", "110", "95", "110", "5.5", "565.5", 5), c(225, "90", "90", "90", "90", "3", "270", 1),
            c(240, "120", "120", "120", "120", "1", "120", 1),
            c(0, "130", "130", "130", "130", "0.1", "13", 1, days=1)],
    "1h": [c(0, "100", "110", "95", "110", "5.5", "565.5", 5), c(180, "90", "90", "90", "90", "3", "270", 1),
           c(240, "120", "120", "120", "120", "1", "120", 1), c(0, "130", "130", "130", "130", "0.1", "13", 1, days=1)],
    "4h": [c(0, "100", "110", "90", "90", "8.5", "835.5", 6), c(240, "120", "120", "120", "120", "1", "120", 1),
           c(0, "130", "130", "130", "130", "0.1", "13", 1, days=1)],
    "1d": [c(0, "100", "120", "90", "120", "9.5", "955.5", 7),
           c(0, "130", "130", "130", "130", "0.1", "13", 1, days=1)],
}


def test_trades_make_exactly_the_hand_computed_candles_of_every_interval(engine):
    trade(engine, "BTC-USD", TRADES)
    for interval, expected in EXPECTED.items():
        assert stored(engine, "BTC-USD", interval) == expected, interval


@pytest.mark.parametrize("split", [1, 2, 3, 5, 7])
def test_later_trades_update_the_candles_and_the_open_stays_the_first_trades(engine, split):
    trade(engine, "BTC-USD", TRADES[:split])
    trade(engine, "BTC-USD", TRADES[split:])
    for interval, expected in EXPECTED.items():
        assert stored(engine, "BTC-USD", interval) == expected, interval


def test_trade_by_trade_gives_the_same_candles_as_all_at_once(engine):
    for one in TRADES:
        trade(engine, "ETH-USD", [one])
    for interval, expected in EXPECTED.items():
        assert stored(engine, "ETH-USD", interval) == expected, interval


def test_recording_trades_is_one_statement_and_nothing_for_no_trades(engine, monkeypatch):
    from du_core.db import fast

    calls: list[str] = []
    real = fast.execute
    monkeypatch.setattr(fast, "execute", lambda s, sql, params=None: calls.append(sql) or real(s, sql, params))
    with Session(engine) as s, s.begin():
        candles.record_trades(s, "BTC-USD", [(at, D(p), D(q)) for at, p, q in TRADES])
        candles.record_trades(s, "BTC-USD", [])
    assert len(calls) == 1 and "unnest" in calls[0]


def test_candle_buckets_are_aligned_to_the_epoch_in_utc():
    moment = datetime(2026, 3, 7, 13, 47, 31, 5, tzinfo=UTC)
    assert candles.bucket_start(moment, "4h") == datetime(2026, 3, 7, 12, tzinfo=UTC)
    assert candles.bucket_start(moment, "15m") == datetime(2026, 3, 7, 13, 45, tzinfo=UTC)
    plus7 = timezone(timedelta(hours=7))
    assert candles.bucket_start(datetime(2026, 3, 8, 2, 0, tzinfo=plus7), "1d") == datetime(2026, 3, 7, tzinfo=UTC)


# tickers


def rest(engine, symbol: str, side: str, price: str, status: str = "open") -> None:
    """A resting order straight into the book (the order service is not needed to read a book)."""
    owner = make_user(engine).user_id
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO orders (id, user_id, symbol, side, type, tif, price, quantity, status, hold_asset, held,"
            " maker_fee_rate, taker_fee_rate) VALUES (:id, :u, :s, :side, 'limit', 'gtc', :p, 1, :st, 'USD', 0,"
            " 0.001, 0.002)"), {"id": uuid.uuid4(), "u": owner, "s": symbol, "side": side, "p": D(price),
                                "st": status})


def recent(hours: float) -> datetime:
    """A time `hours` ago, in the middle of its minute (no test trips over a bucket edge)."""
    moment = candles.bucket_start(datetime.now(UTC) - timedelta(hours=hours), "1m")
    return moment + timedelta(seconds=30)


def test_the_ticker_has_the_last_24_hours_from_1m_candles_and_the_best_bid_and_ask(engine, user):
    trade(engine, "BTC-USD", [(recent(30), "50000", "1"), (recent(20), "60000.5", "0.5"),
                              (recent(10), "58000", "0.25"), (recent(3), "61000", "0.1"),
                              (recent(1), "59500.25", "0.2")])
    rest(engine, "BTC-USD", "buy", "59400")
    rest(engine, "BTC-USD", "buy", "59450.5")
    rest(engine, "BTC-USD", "sell", "59600")
    rest(engine, "BTC-USD", "sell", "59550", status="cancelled")
    rest(engine, "ETH-USD", "sell", "10")
    view = run(engine, market.ticker, parse(SymbolQuery, symbol="btc-usd"), actor=Actor.anonymous())
    doc = view.model_dump(mode="json")
    assert doc["symbol"] == "BTC-USD" and doc["instrument"] and doc["status"] == "trading"
    assert doc["window_interval"] == "1m"
    assert (doc["last_price"], doc["open_24h"], doc["high_24h"], doc["low_24h"]) == (
        "59500.25", "60000.50", "61000.00", "58000.00")
    assert (doc["change_24h"], doc["change_percent_24h"]) == ("-500.25", "-0.83")  # -500.25 / 60000.5
    assert (doc["volume_24h"], doc["quote_volume_24h"], doc["trades_24h"]) == ("1.0500", "62500.300000", 4)
    assert (doc["best_bid"], doc["best_ask"]) == ("59450.50", "59600.00")
    assert abs(view.as_of - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_instruments_last_price_wins_over_the_last_close(engine, user):
    trade(engine, "ETH-USD", [(recent(2), "3000", "1")])
    with engine.begin() as conn:
        conn.execute(text("UPDATE instruments SET last_price = 3010.5 WHERE symbol = 'ETH-USD'"))
    view = run(engine, market.ticker, parse(SymbolQuery, symbol="ETH-USD"), actor=user)
    assert (view.last_price, view.open_24h, view.change_24h, view.change_percent_24h) == (
        D("3010.50"), D("3000.00"), D("10.50"), D("0.35"))


def test_an_instrument_without_trades_has_a_quiet_ticker_not_an_error(engine):
    view = run(engine, market.ticker, parse(SymbolQuery, symbol="ETH-BTC"), actor=Actor.anonymous())
    doc = view.model_dump(mode="json")
    assert doc["last_price"] is None and doc["open_24h"] is None and doc["change_percent_24h"] is None
    assert (doc["volume_24h"], doc["trades_24h"], doc["best_bid"]) == ("0.000", 0, None)


def test_an_instrument_quiet_for_a_day_keeps_its_last_price_and_zero_volume(engine):
    trade(engine, "BTC-USD", [(recent(30), "50000", "1")])
    view = run(engine, market.ticker, parse(SymbolQuery, symbol="BTC-USD"), actor=Actor.anonymous())
    assert (view.last_price, view.volume_24h, view.open_24h, view.window_interval) == (
        D("50000.00"), D("0.0000"), None, None)


def test_an_unknown_symbol_is_not_found(engine):
    for op, req in ((market.ticker, parse(SymbolQuery, symbol="NOPE")),
                    (market.history, parse(HistoryQuery, symbol="NOPE")),
                    (market.analysis, parse(AnalysisQuery, symbol="NOPE"))):
        with pytest.raises(NotFound, match="NOPE"):
            run(engine, op, req, actor=make_user(engine))


@pytest.mark.parametrize("symbol", ["", "-BTC", "BTC USD", "A" * 25, "BTC/USD", "ÄPFEL"])
def test_a_malformed_symbol_is_invalid_input(symbol):
    with pytest.raises(InvalidInput, match="symbol"):
        parse(SymbolQuery, symbol=symbol)


def import_text(engine, admin: Actor, symbol: str, data: str, interval: str = "1d", **extra):
    return run(engine, market.import_candles, parse(ImportCandles, symbol=symbol, interval=interval, data=data,
                                                     **extra), actor=admin)


def import_file(engine, admin: Actor, symbol: str, path: Path, interval: str = "1d"):
    return import_text(engine, admin, symbol, path.read_text(), interval, source_name=path.name)


def test_prices_list_every_instrument_then_imported_symbols_without_login(engine, admin):
    trade(engine, "BTC-USD", [(recent(1), "60000", "1")])
    import_text(engine, admin, "ACME", "date,open,high,low,close\n2024-12-30,10,11,9,10.5\n2024-12-31,10.5,12,10,11\n")
    rows = run(engine, market.prices, actor=Actor.anonymous())
    assert [r.symbol for r in rows] == ["BTC-USD", "ETH-BTC", "ETH-USD", "ACME"]
    assert [r.instrument for r in rows] == [True, True, True, False]
    assert rows[0].last_price == D("60000.00") and rows[0].trades_24h == 1
    acme = rows[3]
    assert (acme.last_price, acme.volume_24h, acme.best_bid, acme.status) == (D("11"), None, None, None)
    assert acme.last_candle_at == datetime(2024, 12, 31, tzinfo=UTC)


def test_trades_made_by_the_exchange_reach_the_candles_the_ticker_and_the_feed(engine, user):
    from du_core.trading.schemas import PlaceOrder
    from tests.integration.trading_helpers import call, trader

    seller, buyer = trader(engine, BTC="1"), trader(engine, USD="100000.00")

    def place(actor, **fields):
        return call(engine, actor, "trading.place", PlaceOrder, symbol="BTC-USD", **fields)

    place(seller, side="sell", type="limit", quantity="0.3", price="50000")
    place(seller, side="sell", type="limit", quantity="0.2", price="50100")
    place(seller, side="sell", type="limit", quantity="0.1", price="50500")
    place(buyer, side="buy", type="limit", quantity="0.1", price="49000")
    place(buyer, side="buy", type="market", quantity="0.5")
    doc = run(engine, market.ticker, parse(SymbolQuery, symbol="BTC-USD"), actor=Actor.anonymous()).model_dump(
        mode="json")
    assert (doc["last_price"], doc["open_24h"], doc["high_24h"], doc["low_24h"]) == (
        "50100.00", "50000.00", "50100.00", "50000.00")
    # 0.3 x 50000 + 0.2 x 50100 = 25020
    assert (doc["volume_24h"], doc["quote_volume_24h"], doc["trades_24h"]) == ("0.5000", "25020.000000", 2)
    assert (doc["best_bid"], doc["best_ask"], doc["change_percent_24h"]) == ("49000.00", "50500.00", "0.20")
    day = run(engine, market.history, parse(HistoryQuery, symbol="BTC-USD", interval="1d"), actor=Actor.anonymous())
    assert [(i.open, i.close, i.volume, i.trades) for i in day.items] == [(D("50000"), D("50100"), D("0.5"), 2)]
    internal = {f.name: f for f in run(engine, market.feeds, actor=user)}["trades:BTC-USD"]
    assert internal.last_trade_at is not None and abs(internal.last_trade_at - datetime.now(UTC)) < timedelta(minutes=5)


# history


def test_history_returns_stored_candles_oldest_first_with_exact_places(engine):
    trade(engine, "BTC-USD", TRADES)
    view = run(engine, market.history, parse(HistoryQuery, symbol="BTC-USD", interval="4h"), actor=Actor.anonymous())
    assert (view.interval, view.source_interval, view.note) == ("4h", "4h", None)
    first = view.items[0].model_dump(mode="json")
    assert first == {"start": "2026-01-05T00:00:00Z", "open": "100.00", "high": "110.00", "low": "90.00",
                     "close": "90.00", "volume": "8.5000", "quote_volume": "835.500000", "trades": 6}
    assert [i.start for i in view.items] == [e[0] for e in EXPECTED["4h"]]


def test_history_bounds_and_limit(engine):
    trade(engine, "BTC-USD", TRADES)

    def starts(**kw):
        req = parse(HistoryQuery, symbol="BTC-USD", interval="1m", **kw)
        return [i.start for i in run(engine, market.history, req, actor=Actor.anonymous()).items]

    minutes = [e[0] for e in EXPECTED["1m"]]
    assert starts() == minutes
    assert starts(limit=2) == minutes[-2:]  # the newest, still oldest first
    assert starts(since="2026-01-05T00:01:00", limit=2) == minutes[1:3]
    # the candles overlapping the period: 00:01 holds 00:01:30, and the end is included
    assert starts(since="2026-01-05T00:01:30Z", until="2026-01-05T00:05:00Z") == minutes[1:4]
    assert starts(until="2026-01-05") == minutes[:-1]  # a whole day, included
    assert starts(since="2026-01-06") == minutes[-1:]
    with pytest.raises(InvalidInput, match="after its end"):
        starts(since="2026-01-06", until="2026-01-05")


HOURLY = """time,open,high,low,close,volume
2025-03-01T00:00:00Z,10,12,9,11,1
2025-03-01T01:00:00Z,11,15,10,14,2
2025-03-01T05:00:00Z,14,14,13,13.5,3
2025-03-01T23:00:00Z,13.5,16,13,15,4
2025-03-02T00:00:00Z,15,15.5,8,9,5
"""


def test_history_aggregates_a_coarser_interval_from_a_finer_one(engine, admin):
    import_text(engine, admin, "ACME", HOURLY, "1h")
    daily = run(engine, market.history, parse(HistoryQuery, symbol="ACME", interval="1d"), actor=Actor.anonymous())
    assert (daily.source_interval, daily.note) == ("1h", "aggregated from 1h candles")
    assert [i.model_dump(mode="json") for i in daily.items] == [
        {"start": "2025-03-01T00:00:00Z", "open": "10", "high": "16", "low": "9", "close": "15", "volume": "10",
         "quote_volume": None, "trades": None},
        {"start": "2025-03-02T00:00:00Z", "open": "15", "high": "15.5", "low": "8", "close": "9", "volume": "5",
         "quote_volume": None, "trades": None}]
    four = run(engine, market.history, parse(HistoryQuery, symbol="ACME", interval="4h", since="2025-03-01T03:00:00Z",
                                             until="2025-03-01T20:00:00"), actor=Actor.anonymous())
    assert [(i.start.hour, i.open, i.close, i.volume) for i in four.items] == [  # the buckets overlapping 03:00-20:00
        (0, D("10"), D("14"), D("3")), (4, D("14"), D("13.5"), D("3")), (20, D("13.5"), D("15"), D("4"))]
    finer = run(engine, market.history, parse(HistoryQuery, symbol="ACME", interval="5m"), actor=Actor.anonymous())
    assert finer.items == [] and "only 1h" in finer.note


def test_aggregated_trade_candles_equal_the_stored_ones(engine):
    trade(engine, "BTC-USD", TRADES)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM candles WHERE \"interval\" IN ('4h', '1d')"))
    for interval in ("4h", "1d"):
        view = run(engine, market.history, parse(HistoryQuery, symbol="BTC-USD", interval=interval),
                   actor=Actor.anonymous())
        assert view.source_interval == "1h"
        assert [(i.start, i.open, i.high, i.low, i.close, i.volume, i.quote_volume, i.trades) for i in view.items] == [
            e[:8] for e in EXPECTED[interval]]


# imports


def feed(engine, name: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM market_feeds WHERE name = :n"), {"n": name}).mappings().first()
    return dict(row) if row else None


def audit(engine, action: str = "market.import") -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT outcome, target_id, new_values, details FROM audit_trails WHERE action = :a ORDER BY occurred_at"),
            {"a": action}).mappings()]


def test_two_years_of_daily_candles_import_once_and_again_changes_nothing(engine, admin):
    first = import_file(engine, admin, "acme", ACME_CSV)
    assert (first.symbol, first.feed, first.format, first.source) == ("ACME", "import:ACME:1d", "csv",
                                                                     "file:market_acme_1d.csv")
    assert (first.rows, first.inserted, first.updated, first.unchanged) == (522, 522, 0, 0)
    assert (first.first_candle_at, first.last_candle_at) == (datetime(2023, 1, 2, tzinfo=UTC),
                                                             datetime(2024, 12, 31, tzinfo=UTC))
    rows = stored(engine, "ACME", "1d")
    assert rows[0] == (datetime(2023, 1, 2, tzinfo=UTC), D("148.82"), D("149.17"), D("145.30"), D("145.31"),
                       D("4020766"), None, None, "import")
    again = import_file(engine, admin, "ACME", ACME_CSV)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 522)
    changed = ACME_CSV.read_text().replace("2024-12-31,", "2024-12-31,", 1).splitlines()
    changed[-1] = changed[-1].rsplit(",", 1)[0] + ",1"  # the last day's volume
    third = import_text(engine, admin, "ACME", "\n".join(changed))
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 521)
    assert candle_count(engine) == 522
    state = feed(engine, "import:ACME:1d")
    assert (state["kind"], state["status"], state["rows"], state["error"]) == ("import", "ok", 522, None)
    assert [(a["outcome"], a["target_id"], a["new_values"]["inserted"], a["new_values"]["unchanged"])
            for a in audit(engine)] == [("success", "import:ACME:1d", 522, 0), ("success", "import:ACME:1d", 0, 522),
                                        ("success", "import:ACME:1d", 0, 521)]


def test_binance_klines_import_with_quote_volume_and_trade_counts(engine, admin):
    view = import_file(engine, admin, "XBT-USDT", XBT_JSON)
    assert (view.format, view.rows, view.inserted) == ("json", 366, 366)
    raw = json.loads(XBT_JSON.read_text())[0]
    first = stored(engine, "XBT-USDT", "1d")[0]
    assert first == (datetime(2024, 1, 1, tzinfo=UTC), D(raw[1]), D(raw[2]), D(raw[3]), D(raw[4]), D(raw[5]),
                     D(raw[7]), raw[8], "import")


BAD_ROWS = [
    ("time,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n2024-01-02T12:00:00,1,2,0.5,1.5\n",
     "row 2 (line 3): time 2024-01-02T12:00:00+00:00 is not the start of a 1d candle"),
    ("time,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n2024-01-02,1,1.2,0.5,1.5\n",
     "row 2 (line 3): high 1.2 is below the close 1.5"),
    ("time,open,high,low,close\n2024-01-01,1,2,1.1,1.5\n", "row 1 (line 2): low 1.1 is above the open 1"),
    ("time,open,high,low,close\n2024-01-01,0,2,0.5,1.5\n", "row 1 (line 2): open must be greater than zero"),
    ("time,open,high,low,close\n2024-01-01,-1,2,0.5,1.5\n", "row 1 (line 2): open must be greater than zero"),
    ("time,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,-3\n", "row 1 (line 2): volume must not be negative"),
    ("time,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n\n2024-01-01,1,2,0.5,1.5\n",
     "row 2 (line 4): time 2024-01-01T00:00:00+00:00 repeats row 1"),
    ("time,open,high,low,close\n2024-01-01,1,2,0.5,NaN\n", "row 1 (line 2): close 'NaN' is not a number"),
    ("time,open,high,low,close\n2024-01-01,1,2,0.5,1e400\n", "row 1 (line 2): close '1e400' is too large"),
    ("time,open,high,low,close\nyesterday,1,2,0.5,1.5\n", "row 1 (line 2): time 'yesterday' is not an ISO 8601"),
    ("time,open,high,low,close\n2024-01-01,1,2,0.5\n", "row 1 (line 2): has 4 values, the header names 5"),
    ("when,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n", "no time column"),
    ("date,open,high,close\n2024-01-01,1,2,1.5\n", "no low column"),
    ("time,open,high,low,close\n", "holds no candles"),
    ("", "the file is empty"),
    ("time,open,high,low,close\n2999-01-01,1,2,0.5,1.5\n", "row 1 (line 2): time 2999-01-01T00:00:00+00:00 is in "
                                                           "the future"),
    ("[[1704067200000, \"1\", \"2\", \"0.5\", \"1.5\"], [1704067200001, \"1\", \"2\", \"0.5\", \"1.5\"]]",
     "row 2: time 2024-01-01T00:00:00.001000+00:00 is not the start of a 1d candle"),
    ('{"candles": [{"Date": "2024-01-01", "Open": 1, "High": 2, "Low": 0.5, "Close": 1.5, "Volume": null}]}',
     "row 1: volume is missing or not a number"),
    ('[{"time": "2024-01-01", "open": NaN, "high": 2, "low": 0.5, "close": 1.5}]', "NaN, which is not a number"),
    ('{"rows": []}', '"candles" or "data"'),
]


@pytest.mark.parametrize("data,message", BAD_ROWS)
def test_a_bad_file_is_refused_whole_naming_the_first_bad_row(engine, admin, data, message):
    import_text(engine, admin, "ACME", "time,open,high,low,close\n2023-12-31,1,2,0.5,1.5\n")
    before = stored(engine, "ACME", "1d")
    with pytest.raises(InvalidInput) as refused:
        import_text(engine, admin, "ACME", data)
    assert message in refused.value.message
    assert stored(engine, "ACME", "1d") == before and candle_count(engine) == 1
    state = feed(engine, "import:ACME:1d")
    assert (state["status"], state["rows"], state["error"]) == ("failed", 1, refused.value.message[:1000])
    assert [a["outcome"] for a in audit(engine)] == ["success", "failed"]


def test_an_import_may_not_overwrite_candles_made_by_trades(engine, admin):
    trade(engine, "BTC-USD", TRADES)
    before = candle_count(engine)
    with pytest.raises(InvalidState, match="made by this exchange's trades"):
        import_text(engine, admin, "BTC-USD", "time,open,high,low,close\n2026-01-04,1,2,0.5,1.5\n"
                                              "2026-01-05,1,2,0.5,1.5\n")
    assert candle_count(engine) == before and feed(engine, "import:BTC-USD:1d")["status"] == "failed"


def test_only_admins_import_and_a_refusal_writes_nothing(engine, user):
    data = "time,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n"
    with pytest.raises(PermissionDenied):
        import_text(engine, user, "ACME", data)
    with pytest.raises(AuthRequired):
        import_text(engine, Actor.anonymous(), "ACME", data)
    assert candle_count(engine) == 0 and feed(engine, "import:ACME:1d") is None


def test_an_import_needs_exactly_one_source():
    with pytest.raises(InvalidInput, match="exactly one"):
        parse(ImportCandles, symbol="ACME")
    with pytest.raises(InvalidInput, match="exactly one"):
        parse(ImportCandles, symbol="ACME", data="x", url="https://example.com/a.csv")
    with pytest.raises(InvalidInput, match="http"):
        parse(ImportCandles, symbol="ACME", url="file:///etc/passwd")
    with pytest.raises(InvalidInput, match="interval"):
        parse(ImportCandles, symbol="ACME", data="x", interval="2h")


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def data_server():
    """A real HTTP server on 127.0.0.1 serving tests/data."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Files, directory=str(DATA)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def import_url(engine, admin: Actor, symbol: str, url: str, **extra):
    return run(engine, market.import_candles, parse(ImportCandles, symbol=symbol, url=url, **extra), actor=admin)


def test_a_url_is_fetched_over_real_http_and_its_format_guessed(engine, admin, data_server):
    csv_view = import_url(engine, admin, "ACME", f"{data_server}/market_acme_1d.csv")
    json_view = import_url(engine, admin, "XBT-USDT", f"{data_server}/market_xbt_klines.json")
    assert (csv_view.format, csv_view.inserted, json_view.format, json_view.inserted) == ("csv", 522, "json", 366)
    assert feed(engine, "import:XBT-USDT:1d")["source"] == f"{data_server}/market_xbt_klines.json"


def test_a_missing_file_and_an_unreachable_source_are_unavailable(engine, admin, data_server):
    import socket

    with pytest.raises(Unavailable, match="HTTP 404"):
        import_url(engine, admin, "ACME", f"{data_server}/missing.csv")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unavailable, match="cannot be reached"):
        import_url(engine, admin, "ACME", f"http://127.0.0.1:{port}/a.csv")
    assert candle_count(engine) == 0
    assert feed(engine, "import:ACME:1d")["status"] == "failed"


@pytest.fixture
def transport():
    holder: dict[str, object] = {}
    importer.configure(httpx.MockTransport(lambda request: holder["reply"](request)))  # type: ignore[operator]
    yield holder
    importer.configure(None)


def _timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def _too_big(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"x" * (importer.MAX_BYTES + 1))


@pytest.fixture(autouse=True)
def small_cap(monkeypatch):
    monkeypatch.setattr(importer, "MAX_BYTES", 200_000)  # the test files are smaller; a 64 MB reply is slow


@pytest.mark.parametrize("reply,error,message", [
    (lambda r: httpx.Response(503, text="busy"), Unavailable, "HTTP 503"),
    (_timeout, Unavailable, "did not answer"),
    (_too_big, Unavailable, "more than"),
    (lambda r: httpx.Response(200, headers={"content-length": str(importer.MAX_BYTES + 1)}, content=b"x"),
     Unavailable, "more than"),
    (lambda r: httpx.Response(200, text="<html>maintenance</html>"), InvalidInput, "no time column"),
    (lambda r: httpx.Response(200, text="[1, 2"), InvalidInput, "not valid JSON"),
])
def test_a_broken_source_is_a_clear_error_and_stores_nothing(engine, admin, transport, reply, error, message):
    transport["reply"] = reply
    with pytest.raises(error, match=message):
        import_url(engine, admin, "ACME", "https://data.example.com/acme")
    assert candle_count(engine) == 0


def test_the_content_type_says_json(engine, admin, transport):
    transport["reply"] = lambda r: httpx.Response(200, content=XBT_JSON.read_bytes(),
                                                  headers={"content-type": "application/json; charset=utf-8"})
    assert import_url(engine, admin, "XBT", "https://data.example.com/klines?symbol=XBT").format == "json"


def test_credentials_in_a_url_are_fetched_with_but_never_stored(engine, admin, transport):
    seen: list[str] = []
    transport["reply"] = lambda r: seen.append(str(r.url)) or httpx.Response(200, content=ACME_CSV.read_bytes())
    view = import_url(engine, admin, "ACME", "https://data.example.com/daily.csv?symbol=ACME&apikey=s3cr3t")
    assert seen == ["https://data.example.com/daily.csv?symbol=ACME&apikey=s3cr3t"]
    assert view.source == "https://data.example.com/daily.csv?symbol=ACME&apikey=[redacted]"
    transport["reply"] = lambda r: httpx.Response(500)
    with pytest.raises(Unavailable) as failed:
        import_url(engine, admin, "ACME", "https://data.example.com/daily.csv?symbol=ACME&apikey=s3cr3t")
    assert "s3cr3t" not in json.dumps(failed.value.to_dict())
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT m.source, m.error, (SELECT json_agg(details) FROM audit_trails) FROM"
                                 " market_feeds m")).one()
    assert "s3cr3t" not in json.dumps(list(kept), default=str)


# feeds


def test_feeds_list_each_instruments_trades_then_each_import_with_its_status(engine, admin, user):
    trade(engine, "BTC-USD", TRADES)
    with engine.begin() as conn:  # a trade row without its orders and entry: the feed reads only its time
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(
            "INSERT INTO trades (symbol, price, quantity, quote_quantity, taker_side, buy_order_id, sell_order_id,"
            " buyer_id, seller_id, buyer_fee, seller_fee, entry_id, created_at) VALUES ('BTC-USD', 120, 1, 120,"
            " 'buy', :u, :u, :u, :u, 0, 0, :u, :t)"), {"u": uuid.uuid4(), "t": at(240)})
    import_file(engine, admin, "ACME", ACME_CSV)
    with pytest.raises(InvalidInput):
        import_text(engine, admin, "ACME", "bad", "1h")
    views = {v.name: v for v in run(engine, market.feeds, actor=user)}
    assert list(views) == ["trades:BTC-USD", "trades:ETH-BTC", "trades:ETH-USD", "import:ACME:1d", "import:ACME:1h"]
    btc = views["trades:BTC-USD"]
    assert (btc.kind, btc.status, btc.last_trade_at, btc.first_candle_at, btc.last_candle_at) == (
        "internal", "trading", at(240), at(0), at(0, days=1))
    assert views["trades:ETH-USD"].last_trade_at is None
    acme = views["import:ACME:1d"]
    assert (acme.status, acme.rows, acme.source, acme.error) == ("ok", 522, "file:market_acme_1d.csv", None)
    assert acme.last_run_at is not None
    failed = views["import:ACME:1h"]
    assert (failed.status, failed.rows) == ("failed", 0) and "no time column" in failed.error
    with pytest.raises(AuthRequired):
        run(engine, market.feeds, actor=Actor.anonymous())


# analysis


def acme_frame() -> pd.DataFrame:
    frame = pd.read_csv(ACME_CSV, parse_dates=["Date"]).set_index("Date")
    return frame


def analyse(engine, actor: Actor, symbol: str, **kw):
    return run(engine, market.analysis, parse(AnalysisQuery, symbol=symbol, **kw), actor=actor)


def test_analysis_matches_an_independent_pandas_computation(engine, admin, user):
    import_file(engine, admin, "ACME", ACME_CSV)
    view = analyse(engine, user, "ACME", since="2024-01-01", until="2024-12-31")
    frame = acme_frame().loc["2024-01-01":"2024-12-31"]
    closes = frame["Close"]
    returns = closes.pct_change().dropna()
    assert (view.periods_per_year, view.days, view.returns) == (252, len(frame), len(frame) - 1)
    assert (view.first_day, view.last_day, view.source_interval) == (date(2024, 1, 1), date(2024, 12, 31), "1d")
    assert view.mean_daily_return == pytest.approx(returns.mean(), rel=1e-9)
    assert view.daily_volatility == pytest.approx(np.std(returns.to_numpy(), ddof=1), rel=1e-9)
    assert view.annualised_volatility == pytest.approx(np.std(returns.to_numpy(), ddof=1) * math.sqrt(252), rel=1e-9)
    assert view.total_return == pytest.approx(closes.iloc[-1] / closes.iloc[0] - 1, rel=1e-12)
    drawdown = closes / closes.cummax() - 1
    assert view.max_drawdown == pytest.approx(drawdown.min(), rel=1e-9)
    assert view.drawdown_trough == drawdown.idxmin().date()
    assert view.drawdown_peak == closes.loc[:drawdown.idxmin()].idxmax().date()
    assert (view.high, view.low) == (D(str(frame["High"].max())).quantize(D("0.01")),
                                     D(str(frame["Low"].min())).quantize(D("0.01")))
    assert view.range == view.high - view.low
    ranges = [D(h) - D(lo) for h, lo in zip(frame["High"].map("{:.2f}".format), frame["Low"].map("{:.2f}".format))]
    assert view.average_daily_range == (sum(ranges) / len(ranges)).quantize(D("0.0001"))
    assert view.average_daily_range_ratio == pytest.approx(((frame["High"] - frame["Low"]) / frame["Close"]).mean(),
                                                           rel=1e-9)
    assert view.first_close == D(f"{closes.iloc[0]:.2f}") and view.notes == []


def test_analysis_correlates_daily_returns_on_common_days(engine, admin, user):
    import_file(engine, admin, "ACME", ACME_CSV)
    import_file(engine, admin, "XBT", XBT_JSON)
    view = analyse(engine, user, "acme", with_symbols=["xbt", "ACME", "XBT"], since="2024-01-01", until="2024-12-31")
    acme = acme_frame()["Close"]
    klines = json.loads(XBT_JSON.read_text())
    xbt = pd.Series([float(k[4]) for k in klines], index=pd.to_datetime([k[0] for k in klines], unit="ms"))
    joined = pd.concat({"ACME": acme.loc["2024-01-01":], "XBT": xbt}, axis=1, join="inner")
    expected = joined.pct_change().dropna().corr()
    assert view.correlation_days == len(joined) - 1
    assert [r.symbol for r in view.correlation] == ["ACME", "XBT"]
    got = {r.symbol: r.correlations for r in view.correlation}
    assert got["ACME"]["ACME"] == pytest.approx(1.0) and got["XBT"]["XBT"] == pytest.approx(1.0)
    assert got["ACME"]["XBT"] == pytest.approx(expected.loc["ACME", "XBT"], rel=1e-9)
    assert got["XBT"]["ACME"] == got["ACME"]["XBT"]


def test_an_instrument_is_annualised_over_365_days_from_its_trades(engine, user):
    closes = ["100", "102", "99", "105", "104", "110"]
    for day, price in enumerate(closes):
        trade(engine, "BTC-USD", [(at(60, days=day), "101", "1"), (at(600, days=day), price, "0.5")])
    view = analyse(engine, user, "BTC-USD", lookback=30)
    series = pd.Series([float(p) for p in closes])
    returns = series.pct_change().dropna()
    assert (view.periods_per_year, view.days, view.source_interval) == (365, 6, "1d")
    assert view.last_day == date(2026, 1, 10) and view.first_day == date(2025, 12, 12)
    assert view.annualised_volatility == pytest.approx(returns.std(ddof=1) * math.sqrt(365), rel=1e-12)
    assert view.total_return == pytest.approx(0.10)
    assert view.max_drawdown == pytest.approx(99 / 102 - 1)
    assert (view.drawdown_peak, view.drawdown_trough) == (date(2026, 1, 6), date(2026, 1, 7))
    assert (view.high, view.low, view.range) == (D("110.00"), D("99.00"), D("11.00"))


def test_finer_candles_are_aggregated_to_days_for_the_analysis(engine, admin, user):
    import_text(engine, admin, "ACME", HOURLY, "1h")
    view = analyse(engine, user, "ACME", include_series=True)
    assert (view.source_interval, view.days, view.first_close, view.last_close) == ("1h", 2, D("15"), D("9"))
    assert view.total_return == pytest.approx(9 / 15 - 1)
    assert [(r.day, r.close, r.daily_return) for r in view.series] == [
        (date(2025, 3, 1), D("15"), None), (date(2025, 3, 2), D("9"), pytest.approx(-0.4))]
    assert view.daily_volatility is None and any("volatility needs at least 2" in n for n in view.notes)


def test_figures_that_cannot_be_computed_are_null_with_a_reason_never_nan(engine, admin, user):
    import_text(engine, admin, "ONE", "time,open,high,low,close\n2024-05-01,10,11,9,10\n")
    import_text(engine, admin, "FLAT", "time,open,high,low,close\n2024-05-01,5,5,5,5\n2024-05-02,5,5,5,5\n"
                                       "2024-05-03,5,5,5,5\n2024-05-04,5,5,5,5\n2024-05-05,5,5,5,5\n")
    one = analyse(engine, user, "ONE", with_symbols=["FLAT"])
    doc = one.model_dump(mode="json")
    json.dumps(doc, allow_nan=False)
    assert doc["days"] == 1 and doc["returns"] == 0
    for figure in ("total_return", "mean_daily_return", "daily_volatility", "annualised_volatility", "max_drawdown"):
        assert doc[figure] is None, figure
    assert doc["high"] == "11" and doc["average_daily_range"] == "2.00"
    assert any("volatility needs at least 2" in n for n in one.notes)
    assert any("ONE has fewer than 2 daily closes" in n for n in one.notes)
    flat = analyse(engine, user, "FLAT", with_symbols=["ONE"])
    assert (flat.total_return, flat.daily_volatility, flat.max_drawdown) == (0.0, 0.0, 0.0)
    assert flat.drawdown_peak is None
    json.dumps(flat.model_dump(mode="json"), allow_nan=False)
    nothing = analyse(engine, user, "ETH-BTC")
    assert (nothing.days, nothing.first_day, nothing.high) == (0, None, None)
    assert nothing.notes == ["ETH-BTC has no candles to analyse"]
    later = analyse(engine, user, "FLAT", since="2024-06-01")
    assert (later.days, later.notes) == (0, ["FLAT has no candles from 2024-06-01 on"])
    before = analyse(engine, user, "FLAT", until="2024-04-30", lookback=30)
    assert (before.days, before.first_day, before.notes) == (
        0, date(2024, 4, 1), ["FLAT has no daily closes from 2024-04-01 to 2024-04-30"])


def test_a_constant_series_has_no_correlation_and_says_so(engine, admin, user):
    import_file(engine, admin, "ACME", ACME_CSV)
    flat = "\n".join(["time,open,high,low,close"] + [f"2024-06-{d:02d},5,5,5,5" for d in range(3, 8)])
    import_text(engine, admin, "FLAT", flat)
    view = analyse(engine, user, "ACME", with_symbols=["FLAT"], since="2024-06-01", until="2024-06-30")
    doc = view.model_dump(mode="json")
    json.dumps(doc, allow_nan=False)
    assert view.correlation_days == 4
    assert {r.symbol: r.correlations["FLAT"] for r in view.correlation} == {"ACME": None, "FLAT": None}
    assert any("FLAT's close did not change" in n for n in view.notes)


def test_analysis_needs_a_login_and_refuses_a_lookback_with_a_start_day(engine):
    with pytest.raises(AuthRequired):
        analyse(engine, Actor.anonymous(), "BTC-USD")
    with pytest.raises(InvalidInput, match="not both"):
        parse(AnalysisQuery, symbol="ACME", lookback=30, since="2024-01-01")
    with pytest.raises(InvalidInput):
        parse(AnalysisQuery, symbol="ACME", lookback=1)


def test_an_unknown_symbol_to_correlate_with_is_not_found(engine, admin, user):
    import_text(engine, admin, "ACME", HOURLY, "1h")
    with pytest.raises(NotFound, match="NOPE"):
        analyse(engine, user, "ACME", with_symbols=["NOPE"])
