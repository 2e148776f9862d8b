"""`du portfolio ...` as users meet it: plans that land on target, exact JSON, nulls with reasons, exit codes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from tests.cli.test_trading import ledger_ok, placed, trader, trading

D = Decimal
BTC_LOT = D("0.0001")


def portfolio(du, profile: str, *args: str):
    return du("--profile", profile, "portfolio", *args)


def strict_json(text: str):
    """Parse JSON refusing NaN and the infinities (json.loads accepts them by default)."""
    def refuse(constant: str):
        raise AssertionError(f"{constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def market(du):
    """BTC-USD last traded at 50000, with 2 BTC offered at 50000."""
    trader(du, "maker", BTC="3")
    trader(du, "buyer", USD="1000.00")
    placed(du, "maker", "BTC-USD", "--side", "sell", "--type", "limit", "--quantity", "2.01", "--price", "50000")
    placed(du, "buyer", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.01")


def test_a_rebalance_plan_lands_within_one_lot_of_the_target_and_execute_places_it_once(du, market):
    trader(du, "u", USD="10001.37")
    r = portfolio(du, "u", "rebalance", "--target", "BTC=0.5", "USD=0.5", "--json")
    assert (r.exit_code, r.stderr) == (0, ""), r.stderr
    plan = strict_json(r.stdout)
    assert (plan["executed"], plan["cash"], plan["total_value"], plan["orders"]) == (False, "USD", "10001.37", [])
    [leg] = plan["legs"]
    assert (leg["symbol"], leg["side"], leg["quantity"], leg["price"], leg["skipped"]) == (
        "BTC-USD", "buy", "0.1000", "50000.00", None)
    # filled at the shown price, BTC lands within one lot of 0.5 x 10001.37 / 50000
    target = D("0.5") * D("10001.37") / D(leg["price"])
    assert abs(D(leg["current_quantity"]) + D(leg["quantity"]) - target) < BTC_LOT
    btc = next(w for w in plan["weights"] if w["symbol"] == "BTC")
    assert (btc["target"], btc["current"]) == ("0.5", 0.0) and btc["expected"] == pytest.approx(0.5, abs=0.001)

    r = portfolio(du, "u", "rebalance", "--target", "BTC=0.5", "--target", "USD=0.5", "--execute", "--yes",
                  "--idempotency-key", "rebalance-1", "--json")
    assert (r.exit_code, r.stderr) == (0, ""), r.stderr
    done = strict_json(r.stdout)
    [order] = done["orders"]
    assert (done["executed"], order["side"], order["type"], order["status"], order["filled"]) == (
        True, "buy", "market", "filled", "0.1000")
    again = portfolio(du, "u", "rebalance", "BTC=0.5", "USD=0.5", "--execute", "--yes", "--idempotency-key",
                      "rebalance-1", "--json")
    assert [o["id"] for o in again.json()["orders"]] == [order["id"]]
    orders = trading(du, "u", "orders").json()
    assert [o["id"] for o in orders["items"]] == [order["id"]]
    assert ledger_ok(du)


def test_execute_off_a_terminal_without_yes_places_nothing(du, market):
    trader(du, "u", USD="1000.00")
    r = portfolio(du, "u", "rebalance", "--target", "BTC=1", "--execute", "--json")
    assert (r.exit_code, r.stdout) == (3, "")
    assert "--yes" in r.error()["message"]
    assert trading(du, "u", "orders").json()["items"] == []


@pytest.mark.parametrize("args,code,needle", [
    (("--target", "BTC=0.5", "USD=0.4"), 3, "target weights sum to 0.9, not 1"),
    (("--target", "BTC=half", "USD=0.5"), 3, "plain decimal"),
    (("--target", "BTC"), 3, "SYMBOL=WEIGHT"),
    (("--target", "USDT=0.5", "USD=0.5"), 3, "USDT cannot be traded here"),
    ((), 3, "give the target weights"),
])
def test_a_bad_rebalance_exits_with_its_code_and_one_json_error_line(du, args, code, needle):
    trader(du, "u", USD="1000.00")
    r = portfolio(du, "u", "rebalance", *args, "--json")
    assert (r.exit_code, r.stdout) == (code, "")
    assert needle in r.error()["message"] and r.error()["code"] == "validation_error"
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_read_only_user_executing_a_rebalance_exits_5(du, market):
    trader(du, "ro", "read_only", USD="1000.00")
    r = portfolio(du, "ro", "rebalance", "--target", "BTC=1", "--execute", "--yes", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied")
    r = portfolio(du, "ro", "holdings-update", "--symbol", "BTC", "--quantity", "1", "--average-cost", "1", "--json")
    assert (r.exit_code, r.error()["code"]) == (5, "permission_denied")


def test_an_account_with_no_history_gets_nulls_and_reasons_with_exit_0(du):
    trader(du, "new")
    r = portfolio(du, "new", "performance", "--period", "all", "--json")
    assert (r.exit_code, r.stderr) == (0, ""), r.stderr
    view = strict_json(r.stdout)
    assert (view["points"], view["time_weighted_return"], view["money_weighted_return"], view["end_value"]) == (
        [], None, None, None)
    assert "no history" in view["reasons"]["time_weighted_return"]
    for command in ("overview", "holdings", "analytics"):
        r = portfolio(du, "new", command, "--json")
        assert (r.exit_code, r.stderr) == (0, ""), r.stderr
        strict_json(r.stdout)
    assert strict_json(portfolio(du, "new", "analytics", "--json").stdout)["turnover"] is None


def test_performance_points_are_exact_strings_in_json_and_rows_in_csv(du):
    trader(du, "u", USD="250.50")
    view = strict_json(portfolio(du, "u", "performance", "--period", "1m", "--json").stdout)
    [point] = view["points"]
    assert (point["value"], point["flow"], point["return"]) == ("250.50", "250.50", None)
    assert view["money_weighted_return"] is None and "at least one day" in view["reasons"]["money_weighted_return"]
    assert view["conventions"]["daily_return"].startswith("r_t = (V_t - F_t) / V_{t-1} - 1")
    r = portfolio(du, "u", "performance", "--period", "1m", "-o", "csv")
    assert r.stdout.splitlines() == ["date,value,flow,return", f"{point['date']},250.50,250.50,"]
    r = portfolio(du, "u", "performance", "--period", "1m")  # off a terminal: the summary, tab-separated
    assert "end_value\t250.50" in r.stdout.splitlines()
    r = portfolio(du, "u", "performance", "--period", "5y", "--json")
    assert r.exit_code == 3 and "period" in r.error()["message"]


def test_holdings_update_records_an_external_holding_valued_with_the_rest(du, market):
    trader(du, "u", USD="100.00")
    r = portfolio(du, "u", "holdings-update", "--symbol", "btc", "--quantity", "0.5", "--average-cost", "40000",
                  "--note", "cold wallet", "--json")
    assert (r.exit_code, r.stderr) == (0, ""), r.stderr
    assert {k: r.json()[k] for k in ("symbol", "quantity", "average_cost", "currency", "removed")} == {
        "symbol": "BTC", "quantity": "0.5", "average_cost": "40000", "currency": "USD", "removed": False}
    view = strict_json(portfolio(du, "u", "holdings", "--json").stdout)
    assert view["total_value"] == "25100.00"
    btc = next(h for h in view["items"] if h["symbol"] == "BTC")
    assert (btc["source"], btc["price"], btc["value"], btc["unrealised_pnl"], btc["price_symbol"]) == (
        "external", "50000", "25000.00", "5000.00", "BTC-USD")
    overview = strict_json(portfolio(du, "u", "overview", "--json").stdout)
    assert (overview["external_value"], overview["cash_value"], overview["invested_value"]) == (
        "25000.00", "100.00", "25000.00")


@pytest.mark.parametrize("args,code,needle", [
    (("--symbol", "NOPE", "--quantity", "1", "--average-cost", "1"), 3, "unknown symbol NOPE"),
    (("--symbol", "BTC", "--quantity=-1", "--average-cost", "1"), 3, "quantity must be plain digits"),
    (("--symbol", "BTC", "--quantity", "0"), 4, "no external holding of BTC"),
])
def test_a_bad_holdings_update_exits_with_its_code(du, args, code, needle):
    trader(du, "u")
    r = portfolio(du, "u", "holdings-update", *args, "--json")
    assert (r.exit_code, r.stdout) == (code, "")
    assert needle in r.error()["message"]


def test_the_curve_is_drawn_as_a_braille_line_chart():
    from du_cli.charts import line

    chart = line([100.0, 110.0, None, 90.0, 95.0], width=20, height=4, first="2026-01-01", last="2026-01-05")
    rows = chart.splitlines()
    assert rows[0].startswith("110.00 ┤") and rows[3].startswith(" 90.00 ┤")
    assert all(len(r.split("┤")[1]) == 20 for r in rows[:4])
    assert all(0x2800 <= ord(c) <= 0x28FF for r in rows[:4] for c in r.split("┤")[1])
    assert rows[-1].strip().startswith("2026-01-01") and rows[-1].endswith("2026-01-05")
    assert line([None, None]) == "(no values to draw)"
