"""`du risk metrics|exposure|scoring|mitigation|monitoring` as users meet them.

The acceptance check: real daily prices (bokeh-sampledata's split- and dividend-adjusted closes of
AAPL, IBM and MSFT, public domain) go in through `du market import`, holdings through `du portfolio
holdings-update`, and the `--json` of `du risk metrics` must agree with empyrical-reloaded and
numpy, computed here from the same prices and quantities, to 1e-9 relative.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
from bokeh_sampledata.stocks import AAPL, IBM, MSFT

REL = 1e-9
FROM, TO = "2007-01-01", "2012-12-31"
FIRST_IMPORTED = "2006-06-01"  # the window and a little before it: enough, and quicker to import
HOLDINGS = {"AAPL": 10, "IBM": 20}
STOCKS = {"AAPL": AAPL, "IBM": IBM, "MSFT": MSFT}


def closes(ticker: dict) -> pd.Series:
    return pd.Series(ticker["adj_close"], index=pd.to_datetime(ticker["date"]), dtype="float64")


def no_nan(text: str):
    def refuse(constant: str):
        raise AssertionError(f"{constant} in JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def market(du, tmp_path: Path):
    """The three stocks imported by an admin (profile ops); the default profile is a standard user."""
    du.user_as("admin", profile="ops")
    for symbol, ticker in STOCKS.items():
        path = tmp_path / f"{symbol}.csv"
        rows = [f"{d},{p!r},{p!r},{p!r},{p!r}" for d, p in zip(ticker["date"], ticker["adj_close"], strict=True)
                if d >= FIRST_IMPORTED]
        path.write_text("date,open,high,low,close\n" + "\n".join(rows) + "\n")
        r = du("--profile", "ops", "market", "import", symbol, "--csv", str(path), "--interval", "1d", "--json")
        assert r.exit_code == 0, r.stderr
    du.user_as("standard", profile=None)
    return du


def hold(du, symbol: str, quantity: str, cost: str = "100", *profile: str) -> None:
    r = du(*profile, "portfolio", "holdings-update", "--symbol", symbol, "--quantity", quantity,
           "--average-cost", cost, "--json")
    assert r.exit_code == 0, r.stderr


def test_metrics_agree_with_empyrical_on_real_prices(market):
    du = market
    for symbol, quantity in HOLDINGS.items():
        hold(du, symbol, str(quantity))
    r = du("risk", "metrics", "--from", FROM, "--to", TO, "--benchmark", "MSFT", "--json")
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    got = no_nan(r.stdout)

    px = pd.DataFrame({s: closes(t) for s, t in STOCKS.items()}).loc[FROM:TO]
    values = sum(px[s] * q for s, q in HOLDINGS.items())
    ret = values.pct_change().dropna()
    bench = px["MSFT"].pct_change().dropna()
    assert got["observations"] == len(ret) == 1509
    assert (got["start"], got["end"]) == ("2007-01-03", "2012-12-31")
    assert got["window"] == {"start": FROM, "end": TO, "days": 2192}
    assert got["benchmark"] == "MSFT" and got["benchmark_observations"] == len(bench)
    assert got["current_value"] == pytest.approx(values.iloc[-1], rel=REL)
    assert got["sharpe"] == pytest.approx(ep.sharpe_ratio(ret), rel=REL)
    assert got["annual_volatility"] == pytest.approx(ep.annual_volatility(ret), rel=REL)
    assert got["sortino"] == pytest.approx(ep.sortino_ratio(ret), rel=REL)
    assert got["max_drawdown"] == pytest.approx(-ep.max_drawdown(ret), rel=REL)
    assert got["beta"] == pytest.approx(ep.beta(ret, bench), rel=REL)
    assert got["correlation"] == pytest.approx(np.corrcoef(ret, bench)[0, 1], rel=REL)
    tail = {(t["level"], t["horizon"]): t for t in got["tail"]}
    week = (values / values.shift(5) - 1).dropna().to_numpy()
    for level in (0.95, 0.99):
        cutoff = round(1 - level, 2)
        day = tail[(level, "1d")]
        assert day["historical_var"] == pytest.approx(-ep.value_at_risk(ret, cutoff=cutoff), rel=REL)
        assert day["historical_es"] == pytest.approx(-ep.conditional_value_at_risk(ret, cutoff=cutoff), rel=REL)
        assert day["historical_var_amount"] == pytest.approx(day["historical_var"] * values.iloc[-1], rel=REL)
        q = np.quantile(week, cutoff)
        assert tail[(level, "1w")]["historical_var"] == pytest.approx(-q, rel=REL)
        assert tail[(level, "1w")]["historical_es"] == pytest.approx(-week[week <= q].mean(), rel=REL)
    assert [(h["symbol"], h["quantity"], h["sources"]) for h in got["holdings"]] == [
        ("AAPL", "10", ["external"]), ("IBM", "20", ["external"])]
    assert got["left_out"] == [] and got["notes"] == []
    assert got["conventions"]["quantile"] == "numpy linear (default)" and got["conventions"]["periods_per_year"] == 252


def test_a_risk_free_rate_and_a_lookback_are_honoured(market):
    du = market
    hold(du, "AAPL", "10")
    r = du("risk", "metrics", "--lookback", "100", "--to", TO, "--risk-free-rate", "0.03", "--json")
    got = no_nan(r.stdout)
    ret = closes(AAPL).loc["2012-09-23":TO].pct_change().dropna()
    assert got["window"] == {"start": "2012-09-23", "end": TO, "days": 100}
    assert got["sharpe"] == pytest.approx(ep.sharpe_ratio(ret, risk_free=0.03 / 252), rel=REL)
    assert got["conventions"]["risk_free_rate"] == 0.03


def test_metrics_without_holdings_exit_0_with_nulls_and_reasons(du):
    du.user_as("guest")
    r = du("risk", "metrics", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    got = no_nan(r.stdout)
    assert got["observations"] == 0 and got["holdings"] == [] and "hold nothing" in got["notes"][0]
    for name in ("sharpe", "annual_volatility", "max_drawdown", "current_value", "beta"):
        assert got[name] is None and got["reasons"][name]
    assert all(t["historical_var"] is None and t["reasons"]["historical_var"] for t in got["tail"])


def test_one_day_of_history_gives_nulls_with_reasons(market):
    du = market
    hold(du, "AAPL", "10")
    got = no_nan(du("risk", "metrics", "--from", "2010-06-01", "--to", "2010-06-01", "--json").stdout)
    assert got["observations"] == 0 and got["start"] == got["end"] == "2010-06-01"
    assert got["current_value"] == pytest.approx(10 * closes(AAPL).loc["2010-06-01"], rel=REL)
    assert got["sharpe"] is None and "needs at least 2 daily returns, got 0" in got["reasons"]["sharpe"]
    assert got["max_drawdown"] is None and got["reasons"]["max_drawdown"]


def test_holdings_without_history_in_the_window_are_left_out_with_a_reason(market):
    du = market
    hold(du, "AAPL", "10")
    got = no_nan(du("risk", "metrics", "--from", "2020-01-01", "--to", "2020-03-01", "--json").stdout)
    assert got["holdings"] == [] and got["observations"] == 0
    assert [(x["symbol"], x["reason"]) for x in got["left_out"]] == [
        ("AAPL", "no daily price between 2020-01-01 and 2020-03-01")]
    assert got["notes"] and got["sharpe"] is None


@pytest.mark.parametrize("args", [("--from", "2010-02-30"), ("--from", "2011-01-01", "--to", "2010-01-01"),
                                  ("--lookback", "30", "--from", "2010-01-01"), ("--lookback", "1")])
def test_bad_periods_exit_3(du, args):
    du.user_as("standard")
    r = du("risk", "metrics", *args, "--json")
    assert (r.exit_code, r.stdout) == (3, "") and r.error()["code"] == "validation_error"


def test_an_unknown_benchmark_exits_4(du):
    du.user_as("standard")
    r = du("risk", "metrics", "--benchmark", "NOPE", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (4, "", "not_found")


def test_risk_needs_a_login(du):
    r = du("risk", "exposure", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "auth_required")


def test_platform_views_are_for_admins_and_other_scores_for_compliance(du):
    me = du.user_as("standard")
    for args in (("exposure", "--all"), ("monitoring", "--all"), ("scoring", "--user", me["id"])):
        r = du("risk", *args, "--json")
        if args[0] == "scoring":  # one's own id is one's own score
            assert r.exit_code == 0, r.stderr
            continue
        assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied")
    other = du.register("other@example.com", phone="+84900000001")
    r = du("risk", "scoring", "--user", other["id"], "--json")
    assert (r.exit_code, r.error()["code"]) == (5, "permission_denied")
    assert du("risk", "scoring", "--user", "not-a-uuid", "--json").exit_code == 3
    du.user_as("compliance", profile="officer")
    r = du("--profile", "officer", "risk", "scoring", "--user", other["id"], "--json")
    assert r.exit_code == 0 and r.json()["user_id"] == other["id"]
    du.user_as("admin", profile="ops")
    for args in (("exposure", "--all"), ("monitoring", "--all")):
        r = du("--profile", "ops", "risk", *args, "--json")
        assert r.exit_code == 0, r.stderr


def test_monitoring_alerts_once_while_a_limit_stays_breached(market):
    du = market
    hold(du, "AAPL", "10")  # all in one stock: concentration 1.0 against 0.5
    first = du("risk", "monitoring", "--json").json()
    conc = next(x for x in first["limits"] if x["name"] == "concentration")
    assert (conc["value"], conc["limit"], conc["status"], conc["subject"]) == (1.0, 0.5, "breach", "AAPL")
    assert first["status"] == "breach" and first["new_alerts"] == 1
    assert [(a["limit"], a["status"]) for a in first["alerts"]] == [("concentration", "breach")]
    again = du("risk", "monitoring", "--json").json()
    assert again["new_alerts"] == 0 and len(again["alerts"]) == 1
    r = du("--profile", "ops", "admin", "settings", "update", "risk_max_concentration=1", "--json")
    assert r.exit_code == 0, r.stderr
    back = du("risk", "monitoring", "--json").json()  # 1.0 of a limit of 1: at the limit, not over it
    assert back["new_alerts"] == 1 and [a["status"] for a in back["alerts"]] == ["warn", "breach"]


def test_mitigation_names_the_sale_that_brings_concentration_back(market):
    du = market
    hold(du, "AAPL", "10", "95.5")
    got = du("risk", "mitigation", "--json").json()
    assert got["status"] == "breach"
    remedy = next(x for x in got["remedies"] if x["limit"] == "concentration")
    [action] = remedy["actions"]
    assert (action["kind"], action["quantity"]) == ("sell_outside", "5")
    assert action["command"] == "du portfolio holdings-update --symbol AAPL --quantity 5 --average-cost 95.5"
    assert remedy["target"] == 0.5 and remedy["expected_value"] == pytest.approx(0.5, rel=1e-4)
    assert remedy["expected_value"] <= 0.5


def test_the_score_adds_up_its_components(market):
    du = market
    hold(du, "AAPL", "10")
    got = du("risk", "scoring", "--json").json()
    assert got["higher_is_riskier"] and "weight x sub_score" in got["formula"]
    assert math.isclose(got["score"], sum(c["contribution"] for c in got["components"]), abs_tol=1e-9)
    parts = {c["name"]: c for c in got["components"]}
    assert parts["concentration"]["measure"] == 1.0 and parts["concentration"]["contribution"] == 25.0
    # no prices in the last 365 days: volatility and drawdown are unknown, counted at half
    assert parts["volatility"]["contribution"] == 15.0 and parts["drawdown"]["contribution"] == 10.0
    assert parts["account"]["measure"] == pytest.approx(0.4 + 0.2)  # KYC level 0, concentration in breach
    assert got["score"] == 65.0 and got["band"] == "high"


def test_exposure_shows_external_holdings_in_the_base_currency(market):
    du = market
    hold(du, "AAPL", "10")
    got = du("risk", "exposure", "--json").json()
    [row] = got["by_asset"]
    value = f"{10 * closes(AAPL).iloc[-1]:.2f}"
    assert (row["asset"], row["currency"], row["holdings"], row["gross"], row["net"]) == (
        "AAPL", "USD", value, value, value)
    assert got["base"] == "USD" and got["gross_exposure"] == value and got["open_orders"] == 0


def test_tables_off_a_terminal_are_plain(market):
    du = market
    hold(du, "AAPL", "10")
    out = du("risk", "metrics", "--from", FROM, "--to", TO).stdout
    assert "\x1b[" not in out and out.splitlines()[0].startswith("base\tUSD")
