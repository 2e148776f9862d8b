"""Risk metrics on real daily prices, checked against independent implementations.

The portfolio is 10 AAPL + 5 MSFT + 20 IBM on the split- and dividend-adjusted closes of
bokeh-sampledata's stocks (2000-03-01 to 2013-03-01, public domain Quandl WIKI data shipped in the
wheel), with GOOG (from 2004-08-19) as the benchmark. References: empyrical-reloaded for the
ratios, drawdown, beta, historical VaR (np.percentile) and CVaR; numpy and scipy.stats.norm for
the quantiles and the parametric formulas. Where the definitions match, the figures must agree to
1e-9 relative.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from decimal import Decimal

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
from bokeh_sampledata.stocks import AAPL, GOOG, IBM, MSFT
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from du_core.risk.metrics import (
    Conventions,
    RiskMetrics,
    TailRisk,
    metrics,
    portfolio_values,
    simple_returns,
    to_json,
)

REL = 1e-9
HOLDINGS = {"AAPL": 10, "MSFT": 5, "IBM": 20}
PPY = 252


def _closes(ticker: dict) -> pd.Series:
    return pd.Series(ticker["adj_close"], index=pd.to_datetime(ticker["date"]), dtype="float64")


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return pd.DataFrame({"AAPL": _closes(AAPL), "MSFT": _closes(MSFT), "IBM": _closes(IBM)})


@pytest.fixture(scope="module")
def values(prices: pd.DataFrame) -> pd.Series:
    return portfolio_values(prices, HOLDINGS)


@pytest.fixture(scope="module")
def returns(values: pd.Series) -> pd.Series:
    return simple_returns(values)


@pytest.fixture(scope="module")
def goog() -> pd.Series:
    return _closes(GOOG)


@pytest.fixture(scope="module")
def result(values: pd.Series, goog: pd.Series) -> RiskMetrics:
    return metrics(values, benchmark=goog)


def weekly(returns: pd.Series) -> np.ndarray:
    """The brief's definition, literally: overlapping 5-day compounded returns."""
    return ((1 + returns).rolling(5).apply(np.prod, raw=True) - 1).dropna().to_numpy()


def assert_every_none_has_a_reason(m: RiskMetrics | TailRisk) -> None:
    for f in fields(m):
        if getattr(m, f.name) is None:
            assert m.reasons.get(f.name), f"{f.name} is None without a reason"
    for block in getattr(m, "tail", ()):
        assert_every_none_has_a_reason(block)


def assert_json_safe(m: RiskMetrics) -> dict:
    payload = to_json(m)
    json.loads(json.dumps(payload, allow_nan=False))
    return payload


# --- portfolio values ------------------------------------------------------------------------


def test_portfolio_value_is_the_quantity_weighted_sum_of_closes(prices, values):
    expected = prices["AAPL"] * 10 + prices["MSFT"] * 5 + prices["IBM"] * 20
    assert len(values) == 3270
    np.testing.assert_allclose(values.to_numpy(), expected.to_numpy(), rtol=1e-15)
    assert values.index.equals(prices.index)


def test_decimal_quantities_value_like_floats(prices, values):
    decimal_values = portfolio_values(prices, {k: Decimal(v) for k, v in HOLDINGS.items()})
    np.testing.assert_array_equal(decimal_values.to_numpy(), values.to_numpy())


def test_gaps_inside_a_series_are_forward_filled(prices, values):
    holed = prices.copy()
    gap_days = holed.index[[100, 101, 102, 2000]]
    holed.loc[gap_days, "MSFT"] = np.nan
    filled = portfolio_values(holed, HOLDINGS)
    assert filled.index.equals(prices.index)  # no date lost
    msft = prices["MSFT"].copy()
    msft.loc[gap_days] = prices["MSFT"].iloc[[99, 99, 99, 1999]].to_numpy()
    expected = prices["AAPL"] * 10 + msft * 5 + prices["IBM"] * 20
    np.testing.assert_allclose(filled.to_numpy(), expected.to_numpy(), rtol=1e-15)
    assert filled.iloc[101] != values.iloc[101]


def test_dates_before_every_held_symbol_has_a_price_are_dropped(prices, goog):
    with_goog = prices.assign(GOOG=goog)
    value = portfolio_values(with_goog, {**HOLDINGS, "GOOG": 1})
    assert value.index[0] == pd.Timestamp("2004-08-19")
    assert not value.isna().any()


def test_a_date_on_which_no_held_symbol_trades_is_not_an_observation(prices):
    holiday = pd.DataFrame(np.nan, index=[pd.Timestamp("2000-03-04")], columns=prices.columns)
    value = portfolio_values(pd.concat([prices, holiday]), HOLDINGS)
    assert pd.Timestamp("2000-03-04") not in value.index
    assert len(value) == len(prices)


def test_a_symbol_not_held_needs_no_price(prices, values):
    value = portfolio_values(prices, {**HOLDINGS, "TSLA": 0})
    np.testing.assert_array_equal(value.to_numpy(), values.to_numpy())


def test_a_held_symbol_without_prices_is_refused(prices):
    with pytest.raises(ValueError, match="no prices for held symbols: TSLA"):
        portfolio_values(prices, {**HOLDINGS, "TSLA": 1})


def test_nothing_held_gives_an_empty_series(prices):
    assert portfolio_values(prices, {}).empty


def test_simple_returns_are_pct_change_without_the_first(values, returns):
    assert len(returns) == len(values) - 1
    np.testing.assert_array_equal(returns.to_numpy(), (values / values.shift(1) - 1).to_numpy()[1:])


# --- against empyrical, numpy and scipy -------------------------------------------------------


def test_dates_and_current_value(result, values):
    assert result.observations == 3269
    assert (result.start, result.end) == (date(2000, 3, 1), date(2013, 3, 1))
    assert result.current_value == values.iloc[-1]


@pytest.mark.parametrize("rf", [0.0, 0.03])
def test_ratios_match_empyrical(values, returns, rf):
    m = metrics(values, risk_free_rate=rf)
    r = returns.to_numpy()
    assert m.annual_volatility == pytest.approx(ep.annual_volatility(r), rel=REL)
    assert m.sharpe == pytest.approx(ep.sharpe_ratio(r, risk_free=rf / PPY), rel=REL)
    assert m.downside_deviation == pytest.approx(ep.downside_risk(r, required_return=rf / PPY), rel=REL)
    assert m.sortino == pytest.approx(ep.sortino_ratio(r, required_return=rf / PPY), rel=REL)
    assert m.cagr == pytest.approx(ep.cagr(r), rel=REL)
    assert m.annual_return == pytest.approx(np.mean(r) * PPY, rel=REL)
    assert m.conventions.risk_free_rate == rf


def test_max_drawdown_matches_empyrical_as_a_positive_loss(result, returns):
    assert result.max_drawdown == pytest.approx(-ep.max_drawdown(returns.to_numpy()), rel=REL)
    assert 0 < result.max_drawdown < 1


def test_max_drawdown_runs_from_the_dotcom_peak_to_the_2002_bottom(result, values):
    # Independent: pandas' cummax/idxmin, then the first date back at the peak value.
    drawdown = values / values.cummax() - 1
    trough = drawdown.idxmin()
    peak = values[:trough].idxmax()
    recovery = values[trough:][values[trough:] >= values[peak]].index[0]
    assert result.max_drawdown_trough == trough.date() == date(2002, 10, 9)
    assert result.max_drawdown_peak == peak.date() == date(2000, 9, 1)
    assert result.max_drawdown_recovery == recovery.date() == date(2007, 7, 25)


def test_an_unrecovered_drawdown_has_no_recovery_date(values):
    m = metrics(values[: "2005-01-01"])
    assert m.max_drawdown_recovery is None
    assert "not recovered" in m.reasons["max_drawdown_recovery"]
    assert m.max_drawdown_peak == date(2000, 9, 1)


def test_beta_and_correlation_match_references_on_common_dates(result, returns, goog):
    bench = simple_returns(goog)
    assert result.benchmark_observations == len(bench) == 2147
    assert result.beta == pytest.approx(ep.beta(returns, bench), rel=REL)
    r, b = returns.align(bench, join="inner")
    assert result.beta == pytest.approx(np.cov(r, b, ddof=1)[0, 1] / np.var(b, ddof=1), rel=REL)
    assert result.correlation == pytest.approx(np.corrcoef(r, b)[0, 1], rel=REL)


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_daily_historical_var_and_es_match_empyrical(result, returns, level):
    r = returns.to_numpy()
    tail = result.tail_risk(level, "1d")
    cutoff = round(1 - level, 2)
    assert tail.observations == len(r)
    assert tail.historical_var == pytest.approx(-ep.value_at_risk(r, cutoff=cutoff), rel=REL)
    assert tail.historical_var == pytest.approx(-np.quantile(r, cutoff), rel=REL)
    assert tail.historical_es == pytest.approx(-ep.conditional_value_at_risk(r, cutoff=cutoff), rel=REL)
    assert tail.historical_var_amount == pytest.approx(tail.historical_var * result.current_value, rel=REL)
    assert tail.historical_es_amount == pytest.approx(tail.historical_es * result.current_value, rel=REL)


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_weekly_historical_var_and_es_use_overlapping_compounded_returns(result, returns, level):
    w = weekly(returns)
    tail = result.tail_risk(level, "1w")
    cutoff = round(1 - level, 2)
    assert tail.observations == len(w) == result.observations - 4
    q = np.quantile(w, cutoff)
    assert tail.historical_var == pytest.approx(-q, rel=REL)
    assert tail.historical_es == pytest.approx(-w[w <= q].mean(), rel=REL)
    assert tail.historical_es == pytest.approx(-ep.conditional_value_at_risk(w, cutoff=cutoff), rel=REL)


@pytest.mark.parametrize("horizon", ["1d", "1w"])
@pytest.mark.parametrize("level", [0.95, 0.99])
def test_parametric_var_and_es_match_scipy_normal(result, returns, level, horizon):
    x = returns.to_numpy() if horizon == "1d" else weekly(returns)
    mu, sigma = x.mean(), x.std(ddof=1)
    tail = result.tail_risk(level, horizon)
    assert tail.parametric_var == pytest.approx(-(mu + norm.ppf(1 - level) * sigma), rel=REL)
    assert tail.parametric_es == pytest.approx(sigma * norm.pdf(norm.ppf(level)) / (1 - level) - mu, rel=REL)
    assert tail.parametric_var_amount == pytest.approx(tail.parametric_var * result.current_value, rel=REL)
    assert tail.parametric_es_amount == pytest.approx(tail.parametric_es * result.current_value, rel=REL)


def test_real_portfolio_has_every_figure(result):
    assert result.reasons == {}
    assert all(block.reasons == {} for block in result.tail)
    assert [(b.level, b.horizon) for b in result.tail] == [(0.95, "1d"), (0.99, "1d"), (0.95, "1w"), (0.99, "1w")]


def test_json_carries_the_figures_and_the_conventions(result):
    payload = assert_json_safe(result)
    assert payload["conventions"]["var_sign"] == "positive loss"
    assert payload["conventions"]["periods_per_year"] == 252
    assert payload["max_drawdown_trough"] == "2002-10-09"
    assert payload["tail"][0]["historical_var"] == result.tail[0].historical_var
    assert payload["sharpe"] == result.sharpe
    assert set(payload["conventions"]) == {f.name for f in fields(Conventions)}


# --- what cannot be computed is None, with a reason -------------------------------------------


def _days(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2024-01-01", periods=n)


@pytest.mark.parametrize("n", [0, 1])
def test_empty_or_single_value_gives_no_return_figures(n):
    m = metrics(pd.Series([100.0] * n, index=_days(n)), benchmark=pd.Series([1.0] * n, index=_days(n)))
    assert m.observations == 0
    for name in ("annual_volatility", "sharpe", "sortino", "cagr", "annual_return", "max_drawdown", "beta"):
        assert getattr(m, name) is None
        assert "got 0" in m.reasons[name]
    assert all(block.historical_var is None and block.parametric_var is None for block in m.tail)
    assert (m.current_value is None) == (n == 0)
    assert_every_none_has_a_reason(m)
    assert_json_safe(m)


def test_constant_prices_have_zero_volatility_and_no_sharpe():
    index = _days(60)
    m = metrics(portfolio_values(pd.DataFrame({"X": 50.0, "Y": 20.0}, index=index), {"X": 3, "Y": 7}))
    assert m.annual_volatility == 0.0
    assert m.sharpe is None and "volatility is 0" in m.reasons["sharpe"]
    assert m.sortino is None and "downside deviation is 0" in m.reasons["sortino"]
    assert m.max_drawdown == 0.0 and m.max_drawdown_peak is None and "no drawdown" in m.reasons["max_drawdown_peak"]
    assert m.tail_risk(0.95, "1d").historical_var == 0.0
    assert m.tail_risk(0.95, "1d").parametric_var == 0.0
    assert_every_none_has_a_reason(m)
    assert_json_safe(m)


def test_steady_growth_is_not_an_enormous_sharpe_ratio():
    # Equal daily growth: the float returns differ in the last bits (std ~1e-16), which would
    # give a Sharpe ratio of 1e14 if that rounding noise counted as volatility.
    m = metrics(pd.Series(100.0 * 1.001 ** np.arange(30), index=_days(30)))
    assert m.annual_volatility == 0.0
    assert m.sharpe is None and "volatility is 0" in m.reasons["sharpe"]
    assert m.cagr == pytest.approx(1.001**252 - 1, rel=1e-12)


def test_var_needs_enough_returns_for_its_tail():
    rng = np.random.default_rng(1)
    short = pd.Series(100 * np.cumprod(1 + rng.normal(0, 0.01, 20)), index=_days(20))  # 19 returns
    m = metrics(short)
    tail = m.tail_risk(0.95, "1d")
    assert tail.historical_var is None and "at least 20 1d returns" in tail.reasons["historical_var"]
    assert tail.parametric_var is None and tail.parametric_es_amount is None
    assert_every_none_has_a_reason(m)

    medium = pd.Series(100 * np.cumprod(1 + rng.normal(0, 0.01, 51)), index=_days(51))  # 50 returns
    m = metrics(medium)
    assert m.tail_risk(0.95, "1d").historical_var is not None
    assert m.tail_risk(0.99, "1d").historical_var is None
    assert "at least 100 1d returns" in m.tail_risk(0.99, "1d").reasons["historical_var"]
    assert m.tail_risk(0.99, "1d").parametric_var is not None
    assert m.tail_risk(0.95, "1w").observations == 46


def test_benchmark_without_common_dates_gives_no_beta(values, goog):
    m = metrics(values[:"2004-01-01"], benchmark=goog)
    assert m.beta is None and m.correlation is None
    assert m.benchmark_observations == 0
    assert "shared with the benchmark, got 0" in m.reasons["beta"]
    assert metrics(values).reasons["beta"] == "no benchmark given"


def test_benchmark_dates_as_date_objects_still_overlap(result, values, goog):
    as_dates = pd.Series(goog.to_numpy(), index=pd.Index([d.date() for d in goog.index], dtype=object))
    assert metrics(values, benchmark=as_dates).beta == pytest.approx(result.beta, rel=1e-15)


def test_flat_benchmark_gives_no_beta(values):
    m = metrics(values, benchmark=pd.Series(1.0, index=values.index))
    assert m.beta is None and m.reasons["beta"] == "benchmark returns have zero variance"


def test_missing_values_are_left_out_not_filled(values):
    holed = values.copy()
    holed.iloc[[10, 500]] = np.nan
    m = metrics(holed)
    assert m.observations == len(values) - 3
    expected = ep.annual_volatility(simple_returns(values.drop(values.index[[10, 500]])))
    assert m.annual_volatility == pytest.approx(expected, rel=REL)


def test_a_value_at_or_below_zero_gives_no_return_figures():
    m = metrics(pd.Series([100.0, 50.0, -10.0, 20.0] * 10, index=_days(40)))
    assert m.observations == 0
    assert m.current_value == 20.0
    assert m.sharpe is None and "not positive on 2024-01-03" in m.reasons["sharpe"]
    assert "not positive" in m.tail_risk(0.95, "1d").reasons["historical_var"]
    assert_every_none_has_a_reason(m)
    assert_json_safe(m)


def test_an_annualisation_that_overflows_is_none_not_inf():
    m = metrics(pd.Series([1.0, 100.0], index=_days(2)))
    assert m.cagr is None and "not a finite number" in m.reasons["cagr"]
    assert_json_safe(m)


def test_unsorted_input_is_sorted(values, result):
    assert metrics(values.iloc[::-1]).sharpe == result.sharpe


@pytest.mark.parametrize(
    "series,kwargs,message",
    [
        (pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2024-01-01"] * 2)), {}, "repeated date"),
        (pd.Series([1.0, np.inf], index=_days(2)), {}, "infinite"),
        (pd.Series([1.0, 2.0]), {}, "indexed by date"),
        (pd.Series([1.0, 2.0], index=_days(2)), {"levels": (0.95, 1.0)}, "strictly between 0 and 1"),
        (pd.Series([1.0, 2.0], index=_days(2)), {"periods_per_year": 0}, "positive"),
    ],
)
def test_bad_input_is_refused(series, kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics(series, **kwargs)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-0.2, max_value=0.2), min_size=0, max_size=150), st.floats(0, 0.1))
def test_any_positive_series_gives_finite_figures_or_reasons(daily, rf):
    values = pd.Series(100 * np.cumprod(np.r_[1.0, 1 + np.asarray(daily)]), index=_days(len(daily) + 1))
    m = metrics(values, benchmark=values.iloc[::2] * 3, risk_free_rate=rf)
    assert_every_none_has_a_reason(m)
    assert_json_safe(m)
    for block in m.tail:
        # The mean beyond the quantile is at least as bad as the quantile (up to rounding).
        if block.historical_es is not None:
            assert block.historical_es >= block.historical_var - 1e-12
        if block.parametric_es is not None:
            assert block.parametric_es >= block.parametric_var - 1e-12
    if m.max_drawdown is not None:
        assert 0.0 <= m.max_drawdown < 1.0
    if m.correlation is not None:
        assert -1.0 <= m.correlation <= 1.0
