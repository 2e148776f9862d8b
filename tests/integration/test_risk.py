"""Risk operations on a real database: exposure, limits and alerts, mitigation and the score."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from du_core.actor import Role
from du_core.admin import settings
from du_core.errors import NotFound, PermissionDenied
from du_core.market import candles
from du_core.risk import metrics as rm
from du_core.risk.schemas import ExposureQuery, MonitoringQuery, ScoringQuery
from du_core.trading.schemas import PlaceOrder
from tests.integration.trading_helpers import call, trader

D = Decimal


def prices(engine, symbol: str, closes: list[str], *, last_day=None) -> None:
    """One trade a day at noon UTC, the last on `last_day` (today by default): daily candles of `symbol`."""
    last_day = last_day or datetime.now(timezone.utc).date()
    first = last_day - timedelta(days=len(closes) - 1)
    trades = [(datetime.combine(first + timedelta(days=i), time(12), tzinfo=timezone.utc), D(p), D("0.01"))
              for i, p in enumerate(closes)]
    with Session(engine) as s, s.begin():
        candles.record_trades(s, symbol, trades)


def set_setting(engine, key: str, value) -> None:
    with Session(engine) as s, s.begin():
        settings.store(s, key, value, by=None)


def place(engine, actor, **fields):
    fields.setdefault("symbol", "BTC-USD")
    fields.setdefault("type", "limit")
    return call(engine, actor, "trading.place", PlaceOrder, **fields)


def monitor(engine, actor, **fields):
    return call(engine, actor, "risk.monitoring", MonitoringQuery, **fields)


def limit_of(view, name: str):
    return next(x for x in view.limits if x.name == name)


# history


def test_observation_days_are_the_days_with_a_candle_daily_or_finer(engine):
    from datetime import date

    from sqlalchemy import text

    from du_core.risk import history

    rows = [("AAA", "1d", "2024-01-02 00:00"), ("AAA", "1d", "2024-01-03 00:00"), ("BBB", "1h", "2024-01-05 10:00"),
            ("BBB", "1h", "2024-01-06 23:00"), ("AAA", "1d", "2024-02-01 00:00")]
    with Session(engine) as s, s.begin():
        for symbol, interval, start in rows:
            s.execute(text("INSERT INTO candles (symbol, \"interval\", start, open, high, low, close, volume, source)"
                           " VALUES (:s, :i, :t, 1, 1, 1, 1, 0, 'import')"), {"s": symbol, "i": interval,
                                                                               "t": start + "+00"})
    with Session(engine) as s:
        days = history.candle_days(s, {"AAA", "BBB", "CCC"}, date(2024, 1, 1), date(2024, 1, 31))
    assert days == {date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 5), date(2024, 1, 6)}


# exposure


def test_exposure_counts_holdings_and_open_orders_by_asset_and_currency(engine):
    prices(engine, "BTC-USD", ["50000"])
    t = trader(engine, USD="100000.00", BTC="1")
    place(engine, t, side="buy", quantity="0.1", price="40000")  # 4000 USD of BTC to buy
    place(engine, t, side="sell", quantity="0.2", price="60000")  # 0.2 BTC to sell, at 50000 a BTC now
    view = call(engine, t, "risk.exposure", ExposureQuery)
    rows = {r.asset: r for r in view.by_asset}
    btc = rows["BTC"]
    assert (btc.holdings, btc.open_buy, btc.open_sell, btc.gross, btc.net) == (
        D("50000.00"), D("4000.00"), D("10000.00"), D("64000.00"), D("44000.00"))
    assert btc.currency == "USD" and not btc.cash and btc.share == 1.0
    usd = rows["USD"]
    assert usd.cash and usd.holdings == D("100000.00") and usd.share is None  # available + held
    assert (view.gross_exposure, view.net_exposure, view.base_cash) == (D("64000.00"), D("44000.00"),
                                                                       D("100000.00"))
    assert view.open_orders == 2 and view.total_value == D("150000.00")
    assert [(c.currency, c.gross) for c in view.by_currency] == [("USD", D("164000.00"))]


def test_platform_exposure_adds_users_up_and_ranks_them(engine):
    prices(engine, "BTC-USD", ["50000"])
    small = trader(engine, BTC="0.1", USD="10.00")
    big = trader(engine, BTC="2")
    admin = trader(engine, role=Role.admin)
    with pytest.raises(PermissionDenied):
        call(engine, small, "risk.exposure", ExposureQuery, all=True)
    view = call(engine, admin, "risk.exposure", ExposureQuery, all=True, top=1)
    assert view.users == 2
    btc = next(r for r in view.by_asset if r.asset == "BTC")
    assert btc.holdings == D("105000.00") and view.base_cash == D("10.00")
    assert [(u.user_id, u.gross, u.largest_asset) for u in view.top_users] == [(big.user_id, D("100000.00"), "BTC")]


# monitoring


def test_monitoring_writes_an_alert_on_each_change_and_not_while_it_stays(engine):
    prices(engine, "BTC-USD", ["50000"])
    t = trader(engine, BTC="1", USD="10000.00")  # BTC is 50000 / 60000 of the value
    first = monitor(engine, t)
    conc = limit_of(first, "concentration")
    assert conc.status == "breach" and math.isclose(conc.value, 50000 / 60000) and conc.subject == "BTC"
    assert first.new_alerts == 1 and [(a.limit, a.status) for a in first.alerts] == [("concentration", "breach")]
    assert limit_of(first, "value_at_risk").status == "unknown"  # one day of history
    again = monitor(engine, t)
    assert again.new_alerts == 0 and len(again.alerts) == 1
    set_setting(engine, "risk_max_concentration", D("0.9"))  # 0.833 is now a warn (>= 0.8 x 0.9)
    warned = monitor(engine, t)
    assert limit_of(warned, "concentration").status == "warn" and warned.new_alerts == 1
    set_setting(engine, "risk_max_concentration", D("1"))
    set_setting(engine, "risk_warn_ratio", D("0.9"))  # warns from 0.9 on
    back = monitor(engine, t)
    assert back.status == "ok" and back.new_alerts == 1
    assert [a.status for a in back.alerts] == ["ok", "warn", "breach"]  # newest first
    assert [a.status for a in monitor(engine, t, history=1).alerts] == ["ok"]


def test_a_low_risk_tolerance_halves_the_limits(engine):
    from du_core.clients.schemas import UpdatePreferences

    prices(engine, "BTC-USD", ["50000"])
    t = trader(engine, BTC="1", USD="150000.00")  # BTC is 25 % of the value
    assert limit_of(monitor(engine, t), "concentration").status == "ok"
    call(engine, t, "client.preferences_update", UpdatePreferences, risk_tolerance="low")
    view = monitor(engine, t)
    conc = limit_of(view, "concentration")
    assert view.risk_tolerance == "low" and view.tolerance_factor == 0.5
    assert (conc.limit, conc.platform_limit, conc.status) == (0.25, 0.5, "warn")


def test_admins_see_every_user_in_breach(engine):
    prices(engine, "BTC-USD", ["50000"])
    risky = trader(engine, BTC="1")
    trader(engine, USD="500.00")  # cash only: within every limit
    trader(engine)  # holds nothing: not a candidate
    admin = trader(engine, role=Role.admin)
    with pytest.raises(PermissionDenied):
        monitor(engine, risky, all=True)
    view = monitor(engine, admin, all=True)
    assert (view.candidates, view.evaluated, view.truncated) == (2, 2, False)
    assert [(u.user_id, u.breached) for u in view.in_breach] == [(risky.user_id, ["concentration"])]
    assert view.new_alerts == 1
    assert monitor(engine, risky).new_alerts == 0  # the platform run recorded it already


# mitigation


def test_mitigation_sells_enough_of_the_largest_holding_rounded_to_the_lot(engine):
    prices(engine, "BTC-USD", ["50000"])
    t = trader(engine, BTC="1.5", USD="50000.37")  # BTC: 75000 of 125000.37 = 0.59998
    view = call(engine, t, "risk.mitigation")
    remedy = next(r for r in view.remedies if r.limit == "concentration")
    assert remedy.status == "breach" and remedy.target == 0.5
    [action] = remedy.actions
    # (75000 - 0.5 x 125000.37) / 50000 = 0.2499963 -> 0.25 at the lot of 0.0001
    assert (action.kind, action.quantity) == ("sell", D("0.25"))
    assert action.command == "du trading order BTC-USD --side sell --type market --quantity 0.25"
    assert remedy.expected_value <= 0.5 and math.isclose(remedy.expected_value, 62500 / 125000.37)


def test_mitigation_cancels_the_oldest_orders_over_the_open_order_limit(engine):
    prices(engine, "BTC-USD", ["50000"])
    t = trader(engine, USD="100000.00")
    orders = [place(engine, t, side="buy", quantity="0.01", price=str(p)) for p in (40000, 41000, 42000)]
    set_setting(engine, "max_open_orders", 1)
    view = call(engine, t, "risk.mitigation")
    remedy = next(r for r in view.remedies if r.limit == "max_open_orders")
    assert remedy.status == "breach" and remedy.value == 3 and remedy.expected_value == 1
    assert [a.order_id for a in remedy.actions] == [orders[0].id, orders[1].id]
    assert remedy.actions[0].command == f"du trading cancel {orders[0].id}"


def test_var_and_drawdown_remedies_scale_the_holdings_to_the_target(engine):
    rng = np.random.default_rng(7)
    path = 50000 * np.cumprod(1 + rng.normal(-0.004, 0.05, 120))
    prices(engine, "BTC-USD", [f"{p:.2f}" for p in path])
    t = trader(engine, BTC="2", USD="20000.00")
    view = call(engine, t, "risk.mitigation")
    by_limit = {r.limit: r for r in view.remedies}
    assert {"value_at_risk", "max_drawdown"} <= set(by_limit)
    for name in ("value_at_risk", "max_drawdown"):
        remedy = by_limit[name]
        assert remedy.status == "breach" and remedy.value > remedy.limit_value
        sell = next(a for a in remedy.actions if a.kind == "sell")
        assert sell.command.startswith("du trading order BTC-USD --side sell --type market --quantity ")
        # after the sale, on the same history: BTC left x closes + USD cash with the proceeds
        left = 2 - float(sell.quantity)
        closes = pd.Series(path.round(2), index=pd.date_range(end=pd.Timestamp.now().normalize(), periods=120))
        cash = 20000 + float(sell.quantity) * closes.iloc[-1]
        after = rm.metrics(closes * left + cash, levels=(0.95,))
        figure = after.tail_risk(0.95, "1d").historical_var if name == "value_at_risk" else after.max_drawdown
        assert figure <= remedy.target + 1e-12
        assert remedy.expected_value <= remedy.target


# scoring


def test_the_score_is_the_sum_of_weighted_components(engine):
    prices(engine, "BTC-USD", ["50000"])
    t = trader(engine, BTC="1", USD="50000.00", kyc=1)
    view = call(engine, t, "risk.scoring", ScoringQuery)
    parts = {c.name: c for c in view.components}
    assert list(parts) == ["volatility", "concentration", "drawdown", "account"]
    assert sum(c.weight for c in view.components) == 100
    for c in view.components:
        assert c.contribution == round(c.weight * c.sub_score, 2) and 0 <= c.sub_score <= 1
    assert math.isclose(view.score, sum(c.contribution for c in view.components), abs_tol=1e-9)
    assert parts["concentration"].measure == 0.25  # half the value in BTC, half in USD cash
    assert parts["volatility"].sub_score == 0.5 and "unknown" in parts["volatility"].reason  # one day of prices
    # KYC level 1: 0.2, and no limit in breach (BTC at exactly the 0.5 limit is a warn)
    assert parts["account"].measure == 0.2
    assert view.higher_is_riskier and view.band in ("low", "moderate", "high", "severe")


def test_holding_nothing_scores_only_the_account(engine):
    t = trader(engine, kyc=0)
    view = call(engine, t, "risk.scoring", ScoringQuery)
    assert [c.contribution for c in view.components] == [0.0, 0.0, 0.0, 10.0]  # KYC level 0: 0.4 x 25
    assert view.score == 10.0 and view.band == "low"


def test_another_users_score_is_for_compliance_and_admins(engine):
    target = trader(engine)
    for role in (Role.standard, Role.staff):
        with pytest.raises(PermissionDenied):
            call(engine, trader(engine, role=role), "risk.scoring", ScoringQuery, user_id=target.user_id)
    officer = trader(engine, role=Role.compliance)
    assert call(engine, officer, "risk.scoring", ScoringQuery, user_id=target.user_id).user_id == target.user_id
    with pytest.raises(NotFound):
        call(engine, officer, "risk.scoring", ScoringQuery, user_id="00000000-0000-4000-8000-000000000000")

