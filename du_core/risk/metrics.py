"""Risk numbers of a portfolio's daily values, each under one stated convention.

Why this module exists: a risk figure is only worth signing off when its definition is known, so
every number here follows the definition written below (and carried in `Conventions`, which goes
out with the numbers), and one that cannot be computed honestly is None with a reason, never NaN,
never an infinity and never a 0 that would read as a measurement. The services (holdings, price
history) and `du risk metrics` call these pure functions; they touch no database, no file and no
clock, and they are vectorised (numpy over the whole history, no loop over days).

Floats, not Decimals: these are statistical estimates, not amounts posted to a ledger; quantities
and prices arriving as Decimals are converted once at the door.

    value v_t                  sum over held symbols of quantity x close_t (last close carried
                               forward over a symbol's gaps; dates before every held symbol has a
                               close are dropped)
    daily return r_t           v_t / v_{t-1} - 1 (simple, close to close)      needs 2 values
    1w return                  v_t / v_{t-5} - 1 = prod(1 + r) over 5 days - 1, overlapping
                               (one per day), so n daily returns give n - 4 of them
    VaR, historical            -q, q = numpy's default (linear) quantile of the horizon's returns
                               at 1 - level; positive = a loss. Needs max(20, ceil(1 / (1 - level)))
                               returns of the horizon (20 at 95 %, 100 at 99 %): at least one
                               return is then expected beyond the quantile
    ES, historical             -mean(r[r <= q]): the mean loss on the returns at or beyond VaR
    VaR, parametric (normal)   -(mu + z_{1-level} sigma), mu and sigma (n - 1) of the horizon's
                               returns, z from statistics.NormalDist                 needs 20
    ES, parametric (normal)    sigma pdf(z_{1-level}) / (1 - level) - mu             needs 20
    amounts                    fraction x current value (the last value)
    annual return              mean(r) x ppy (arithmetic)                         needs 1 return
    CAGR                       (v_last / v_first) ^ (ppy / n) - 1                 needs 1 return
    annual volatility          std(r, n - 1) x sqrt(ppy)                          needs 2 returns
    Sharpe                     (mean(r) - rf / ppy) / std(r, n - 1) x sqrt(ppy)   needs 2 returns
                               and a volatility above 0
    downside deviation         sqrt(mean(min(r - rf / ppy, 0)^2)) x sqrt(ppy): over ALL returns,
                               not the std of the negative ones (empyrical's definition)
    Sortino                    (mean(r) - rf / ppy) x ppy / downside deviation    needs 2 returns
                               and one below rf / ppy
    max drawdown               max over t of 1 - v_t / max(v_<=t), a positive loss fraction, with
                               the peak (last date at the peak value before the trough), the trough
                               and the recovery (first date back at the peak value, None if not yet)
    beta, correlation          cov / var and Pearson (both n - 1) of the daily returns of the
                               portfolio and the benchmark on the dates both have a value (each
                               return pair then spans the same days)              needs 2 returns

ppy = periods per year (252 by default), rf = annual risk-free rate (0 by default). Values must be
positive for simple returns to mean anything: a series with a value <= 0 (a net short book) gets
no return-based figure, with that reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

# Horizon name -> trading days a return of that horizon spans.
HORIZONS: dict[str, int] = {"1d": 1, "1w": 5}
MIN_VOLATILITY_RETURNS = 2  # a sample standard deviation (n - 1) needs two
MIN_TAIL_RETURNS = 20  # below this, mu and sigma (and a 5 % tail) are too thin to report

_NORMAL = NormalDist()
_RETURN_ROUNDING = 16 * float(np.finfo(np.float64).eps)  # below this a std is rounding noise


@dataclass(frozen=True)
class Conventions:
    """The definitions the numbers were computed under; shipped with them in `to_json`."""

    returns: str = "simple close-to-close"
    periods_per_year: int = 252
    quantile: str = "numpy linear (default)"
    std: str = "sample (ddof=1)"
    risk_free_rate: float = 0.0  # annual
    var_sign: str = "positive loss"
    week: str = "overlapping 5-day returns"
    parametric: str = "normal: VaR = -(mu + z_{1-level} * sigma), ES = sigma * pdf(z_{1-level}) / (1 - level) - mu"
    expected_shortfall: str = "historical: -mean(r[r <= q]), q the VaR quantile"
    sharpe: str = "(mean(r) - rf/ppy) / std(r) * sqrt(ppy)"
    sortino: str = "(mean(r) - rf/ppy) * ppy / (sqrt(mean(min(r - rf/ppy, 0)^2)) * sqrt(ppy)) (empyrical)"
    drawdown: str = "positive loss fraction from the running peak of the value series"
    beta: str = "cov/var (ddof=1) of daily simple returns on the dates both series have"
    min_returns: str = (
        "volatility, Sharpe, Sortino, beta: 2; historical VaR/ES: max(20, ceil(1/(1-level))) "
        "returns of the horizon; parametric VaR/ES: 20"
    )


@dataclass(frozen=True)
class TailRisk:
    """VaR and expected shortfall at one confidence level over one horizon.

    Fractions are positive losses (0.02 = a 2 % loss); a negative one means that even the tail
    is a gain. Amounts are fraction x the portfolio's current value.
    """

    level: float
    horizon: str
    observations: int  # returns of this horizon the figures rest on
    historical_var: float | None = None
    historical_var_amount: float | None = None
    historical_es: float | None = None
    historical_es_amount: float | None = None
    parametric_var: float | None = None
    parametric_var_amount: float | None = None
    parametric_es: float | None = None
    parametric_es_amount: float | None = None
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RiskMetrics:
    """Every figure of `metrics`; a None figure has its reason in `reasons` under its name."""

    observations: int  # daily returns
    start: date | None
    end: date | None
    current_value: float | None
    tail: tuple[TailRisk, ...]
    annual_return: float | None
    cagr: float | None
    annual_volatility: float | None
    sharpe: float | None
    downside_deviation: float | None
    sortino: float | None
    max_drawdown: float | None
    max_drawdown_peak: date | None
    max_drawdown_trough: date | None
    max_drawdown_recovery: date | None
    benchmark_observations: int  # daily returns in common with the benchmark
    beta: float | None
    correlation: float | None
    conventions: Conventions
    reasons: dict[str, str] = field(default_factory=dict)

    def tail_risk(self, level: float, horizon: str) -> TailRisk:
        """Return the VaR/ES block for `level` and `horizon`.

        Raises:
            KeyError: no block was computed for that pair.
        """
        for block in self.tail:
            if math.isclose(block.level, level) and block.horizon == horizon:
                return block
        raise KeyError((level, horizon))


def portfolio_values(prices: pd.DataFrame, quantities: Mapping[str, float | Decimal]) -> pd.Series:
    """Value a fixed set of holdings on every date: sum over symbols of quantity x close.

    `prices` has dates as its index, symbols as columns and closes in the base currency. A
    symbol with a quantity of 0 is not held and needs no price. Within each held symbol a
    missing close is the last known one (forward fill); a date on which no held symbol has a
    close is not a trading day and is dropped; so are the dates before every held symbol has
    its first close. With nothing held the result is empty.

    Raises:
        ValueError: a held symbol has no column, a quantity or close is not finite, or the
            index is not made of distinct dates.
    """
    held: dict[str, float] = {}
    for symbol, quantity in quantities.items():
        number = float(quantity)
        if not math.isfinite(number):
            raise ValueError(f"quantity of {symbol} is not finite: {quantity}")
        if number != 0.0:
            held[symbol] = number
    missing = sorted(set(held) - set(prices.columns))
    if missing:
        raise ValueError(f"no prices for held symbols: {', '.join(missing)}")
    index = _date_index(prices.index, "prices")
    if not held:
        return pd.Series(np.empty(0), index=index[:0], name="value", dtype="float64")

    closes = pd.DataFrame(
        prices[list(held)].to_numpy(dtype="float64", na_value=np.nan), index=index, columns=list(held)
    )
    closes = _sorted_unique(closes, "prices")
    if np.isinf(closes.to_numpy()).any():
        raise ValueError("prices contain an infinite close")
    closes = closes.dropna(how="all").ffill().dropna(how="any")
    values = closes.to_numpy() @ np.fromiter(held.values(), dtype="float64", count=len(held))
    return pd.Series(values, index=closes.index, name="value")


def simple_returns(values: pd.Series) -> pd.Series:
    """Return v_t / v_{t-1} - 1 between consecutive values, without the undefined first one."""
    return values.pct_change(fill_method=None).iloc[1:]


def metrics(
    values: pd.Series,
    *,
    benchmark: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    periods_per_year: int = 252,
    levels: Sequence[float] = (0.95, 0.99),
) -> RiskMetrics:
    """Compute every risk figure of a daily value series (see the module docstring).

    `values` and `benchmark` are indexed by date; missing (NaN) values are left out, not filled
    (fill price gaps per instrument, in `portfolio_values`). `risk_free_rate` is annual.

    Raises:
        ValueError: a level is not strictly between 0 and 1, `periods_per_year` is not
            positive, `risk_free_rate` or a value is infinite, or an index has a repeated date.
    """
    for level in levels:
        if not 0.0 < level < 1.0:
            raise ValueError(f"confidence level must be strictly between 0 and 1, got {level}")
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year}")
    if not math.isfinite(risk_free_rate):
        raise ValueError(f"risk_free_rate must be finite, got {risk_free_rate}")

    series = _observed(values, "values")
    conventions = Conventions(periods_per_year=periods_per_year, risk_free_rate=float(risk_free_rate))
    out: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    v = series.to_numpy()
    if v.size:
        out["start"], out["end"] = _day(series.index[0]), _day(series.index[-1])
        out["current_value"] = float(v[-1])
    else:
        reasons.update(dict.fromkeys(("start", "end", "current_value"), "no values"))

    not_positive = _not_positive(series, "portfolio value")
    # A series with a value <= 0 has no meaningful simple return: behave as if it had none and
    # say why, rather than report returns that change sign or divide by zero.
    r = np.empty(0) if not_positive else v[1:] / v[:-1] - 1.0
    n = r.size
    out["observations"] = n

    blocks: list[TailRisk] = []
    for horizon, days in HORIZONS.items():
        x = np.empty(0) if not_positive else _horizon_returns(v, days)
        blocks.extend(_tail_risk(x, level, horizon, out.get("current_value"), not_positive) for level in levels)
    out["tail"] = tuple(blocks)

    rf_daily = risk_free_rate / periods_per_year
    root_ppy = math.sqrt(periods_per_year)
    mean = float(r.mean()) if n >= 1 else 0.0  # read only where n >= 1
    if n >= 1:
        out["annual_return"] = mean * periods_per_year
        with np.errstate(over="ignore"):
            out["cagr"] = float(np.power(v[-1] / v[0], periods_per_year / n) - 1.0)
    else:
        reasons["annual_return"] = reasons["cagr"] = _count_reason(n, 1, not_positive)

    if n >= MIN_VOLATILITY_RETURNS:
        std = _sample_std(r)
        out["annual_volatility"] = std * root_ppy
        if std == 0.0:
            reasons["sharpe"] = "volatility is 0: the Sharpe ratio is undefined"
        else:
            out["sharpe"] = (mean - rf_daily) / std * root_ppy
        downside = float(np.sqrt(np.mean(np.square(np.minimum(r - rf_daily, 0.0)))))
        if downside <= _RETURN_ROUNDING:  # one return a rounding error below rf is not a downside
            downside = 0.0
        out["downside_deviation"] = downside * root_ppy
        if downside == 0.0:
            reasons["sortino"] = "no daily return below the risk-free rate: downside deviation is 0"
        else:
            out["sortino"] = (mean - rf_daily) * periods_per_year / (downside * root_ppy)
    else:
        reason = _count_reason(n, MIN_VOLATILITY_RETURNS, not_positive)
        for name in ("annual_volatility", "sharpe", "downside_deviation", "sortino"):
            reasons[name] = reason

    if n >= 1:
        out.update(_max_drawdown(series, reasons))
    else:
        reason = _count_reason(n, 1, not_positive)
        for name in ("max_drawdown", "max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery"):
            reasons[name] = reason

    out["benchmark_observations"] = 0
    if benchmark is None:
        reasons["beta"] = reasons["correlation"] = "no benchmark given"
    else:
        out.update(_beta(series, _observed(benchmark, "benchmark"), not_positive, reasons))

    return _assemble(RiskMetrics, out, reasons, conventions=conventions)


def to_json(m: RiskMetrics) -> dict[str, Any]:
    """Return `m` as JSON-safe data: dates as ISO strings, no NaN, no infinity.

    Raises:
        ValueError: a float is not finite (cannot happen for a `metrics` result; guards
            hand-built ones).
    """
    return _jsonable(m)


# --- internals -------------------------------------------------------------------------------


def _count_reason(n: int, need: int, not_positive: str | None) -> str:
    if not_positive:
        return not_positive
    return f"needs at least {need} daily return{'s' if need != 1 else ''}, got {n}"


def _horizon_returns(v: np.ndarray, days: int) -> np.ndarray:
    # v_t / v_{t-days} - 1 is the compounded product of the daily returns in between, computed
    # from the values directly: one division per date instead of a rolling product.
    if v.size <= days:
        return np.empty(0)
    return v[days:] / v[:-days] - 1.0


def _tail_risk(
    x: np.ndarray, level: float, horizon: str, current: float | None, not_positive: str | None
) -> TailRisk:
    n = x.size
    out: dict[str, Any] = {"level": float(level), "horizon": horizon, "observations": n}
    reasons: dict[str, str] = {}
    # round() so that 1 - 0.95 is exactly the 0.05 a reader would pass to np.quantile.
    tail = round(1.0 - level, 12)
    what = f"{horizon} returns"

    need = max(MIN_TAIL_RETURNS, math.ceil(round(1.0 / tail, 9)))
    if n >= need:
        q = float(np.quantile(x, tail))
        out["historical_var"] = -q
        out["historical_es"] = -float(x[x <= q].mean())
    else:
        reason = not_positive or f"needs at least {need} {what} at {level:g}, got {n}"
        reasons["historical_var"] = reasons["historical_es"] = reason

    if n >= MIN_TAIL_RETURNS:
        mu, sigma = float(x.mean()), _sample_std(x)
        z = _NORMAL.inv_cdf(tail)  # negative: the lower tail
        out["parametric_var"] = -(mu + z * sigma)
        out["parametric_es"] = sigma * _NORMAL.pdf(z) / tail - mu
    else:
        reason = not_positive or f"needs at least {MIN_TAIL_RETURNS} {what}, got {n}"
        reasons["parametric_var"] = reasons["parametric_es"] = reason

    for name in ("historical_var", "historical_es", "parametric_var", "parametric_es"):
        if name not in out:
            reasons[f"{name}_amount"] = reasons[name]
        elif current is None:
            reasons[f"{name}_amount"] = "no current value"
        else:
            out[f"{name}_amount"] = out[name] * current
    return _assemble(TailRisk, out, reasons)


def _sample_std(x: np.ndarray) -> float:
    # Returns are ratios near 1 minus 1, so each carries a rounding error of about one ulp of 1
    # (2.2e-16): a steady 0.1 % a day comes out as returns a few ulps apart, with a "volatility"
    # of 1e-16 that would make the Sharpe ratio 1e14. Dispersion that small is the arithmetic's,
    # not the market's (real daily volatility is 1e-5 and up), so it counts as 0.
    if x.size < 2:
        return 0.0
    std = float(x.std(ddof=1))
    noise = _RETURN_ROUNDING * max(1.0, float(np.max(np.abs(x))) + 1.0)
    return 0.0 if std <= noise else std


def _max_drawdown(series: pd.Series, reasons: dict[str, str]) -> dict[str, Any]:
    v = series.to_numpy()
    peaks = np.maximum.accumulate(v)
    drawdown = 1.0 - v / peaks
    trough = int(np.argmax(drawdown))
    out: dict[str, Any] = {"max_drawdown": float(drawdown[trough])}
    if drawdown[trough] == 0.0:
        reason = "no drawdown: the value never fell below an earlier peak"
        for name in ("max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery"):
            reasons[name] = reason
        return out
    peak_value = peaks[trough]
    # The drawdown starts on the last day at the peak value, not the first day of a plateau.
    peak = int(np.flatnonzero(v[: trough + 1] == peak_value)[-1])
    out["max_drawdown_peak"] = _day(series.index[peak])
    out["max_drawdown_trough"] = _day(series.index[trough])
    back = np.flatnonzero(v[trough + 1 :] >= peak_value)
    if back.size:
        out["max_drawdown_recovery"] = _day(series.index[trough + 1 + int(back[0])])
    else:
        reasons["max_drawdown_recovery"] = f"not recovered: below the peak value through {_day(series.index[-1])}"
    return out


def _beta(
    series: pd.Series, benchmark: pd.Series, not_positive: str | None, reasons: dict[str, str]
) -> dict[str, Any]:
    # Both series are cut to the dates they share before taking returns, so that each pair of
    # returns spans the same interval even where one series has gaps.
    common = series.index.intersection(benchmark.index)
    portfolio, bench = series.loc[common].to_numpy(), benchmark.loc[common].to_numpy()
    problem = not_positive or _not_positive(benchmark.loc[common], "benchmark value")
    m = 0 if problem or common.size < 2 else common.size - 1
    out: dict[str, Any] = {"benchmark_observations": m}
    if problem:
        reasons["beta"] = reasons["correlation"] = problem
        return out
    if m < MIN_VOLATILITY_RETURNS:
        reasons["beta"] = reasons["correlation"] = (
            f"needs at least {MIN_VOLATILITY_RETURNS} daily returns on dates shared with the benchmark, got {m}"
        )
        return out
    rp = portfolio[1:] / portfolio[:-1] - 1.0
    rb = bench[1:] / bench[:-1] - 1.0
    var_b, var_p = _sample_std(rb) ** 2, _sample_std(rp) ** 2
    cov = float((rb - rb.mean()) @ (rp - rp.mean())) / (m - 1)
    if var_b == 0.0:
        reasons["beta"] = reasons["correlation"] = "benchmark returns have zero variance"
        return out
    out["beta"] = cov / var_b
    if var_p == 0.0:
        reasons["correlation"] = "portfolio returns have zero variance"
    else:
        # Rounding can carry |rho| a hair past 1; a correlation of 1.0000000000000002 is noise.
        out["correlation"] = min(1.0, max(-1.0, cov / math.sqrt(var_b * var_p)))
    return out


def _assemble(cls: type, out: dict[str, Any], reasons: dict[str, str], **extra: Any) -> Any:
    """Build `cls` from `out`, turning any non-finite float into None with a reason."""
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in ("reasons", *extra):
            continue
        value = out.get(f.name)
        if isinstance(value, (float, np.floating)):
            value = float(value)
            if not math.isfinite(value):
                reasons[f.name] = "not a finite number (float overflow)"
                value = None
        if value is None and f.name not in reasons:
            # Every path that leaves a figure out names its reason; this keeps the promise
            # "a None has a reason" even if a new figure forgets to.
            reasons[f.name] = "not computed"
        kwargs[f.name] = value
    return cls(**kwargs, **extra, reasons=reasons)


def _observed(values: pd.Series, name: str) -> pd.Series:
    """The series as floats on sorted distinct dates, missing values left out."""
    index = _date_index(values.index, name)
    series = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=index)
    series = _sorted_unique(series, name)
    if np.isinf(series.to_numpy()).any():
        raise ValueError(f"{name} contain an infinite value")
    return series.dropna()


def _date_index(index: pd.Index, name: str) -> pd.DatetimeIndex:
    if isinstance(index, pd.DatetimeIndex):
        return index
    if len(index) == 0:
        return pd.DatetimeIndex([])
    if pd.api.types.is_numeric_dtype(index.dtype):
        raise ValueError(f"{name} must be indexed by date, not by {index.dtype} labels")
    return pd.DatetimeIndex(pd.to_datetime(index))


def _sorted_unique(frame: pd.DataFrame | pd.Series, name: str) -> Any:
    if frame.index.has_duplicates:
        raise ValueError(f"{name} have a repeated date")
    return frame if frame.index.is_monotonic_increasing else frame.sort_index()


def _not_positive(series: pd.Series, what: str) -> str | None:
    bad = np.flatnonzero(series.to_numpy() <= 0.0)
    if bad.size == 0:
        return None
    return f"{what} is not positive on {_day(series.index[bad[0]])}: simple returns are undefined"


def _day(stamp: Any) -> date:
    return pd.Timestamp(stamp).date()


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        number = float(obj)
        if not math.isfinite(number):
            raise ValueError(f"not a finite number: {number}")
        return number
    return obj
