"""`du trading ...` as traders meet it: orders, fills, the book, positions and exit codes."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal

import pytest
from tests.conftest import sql

D = Decimal


def trader(du, profile: str, role: str = "standard", *, kyc: int = 1, **funds: str) -> dict:
    """A user of `role` and KYC level `kyc` logged in under `profile`, holding `funds` (asset=amount).

    The funds come in through the sandbox gateway while the user is a standard member with KYC
    level 1 (a read-only or unverified user may not deposit); the role and level are set after.
    """
    user = du.user_as("standard", f"{profile}-{uuid.uuid4().hex[:6]}@example.com", profile=profile)
    du.set_role(user["email"], "standard", 1)
    for asset, amount in funds.items():
        r = du("--profile", profile, "financial", "deposit", f"--amount={amount}", "--currency", asset,
               "--method", "sandbox", "--yes", "--json")
        assert (r.exit_code, r.stderr) == (0, ""), r.stderr
    du.set_role(user["email"], role, kyc)
    return user


def trading(du, profile: str | None, *args: str, input: str | None = None):
    prefix = ("--profile", profile) if profile else ()
    return du(*prefix, "trading", *args, "--json", input=input)


def order(du, profile: str, *args: str):
    """Place an order: SYMBOL and options as typed, confirmed with --yes."""
    return trading(du, profile, "order", *args, "--yes")


def placed(du, profile: str, *args: str) -> dict:
    r = order(du, profile, *args)
    assert (r.exit_code, r.stderr) == (0, ""), r.stderr
    return r.json()


def balances(du, profile: str) -> dict[str, dict]:
    r = du("--profile", profile, "financial", "balance", "--json")
    assert r.exit_code == 0, r.stderr
    return {b["currency"]: {k: b[k] for k in ("available", "held")} for b in r.json()["balances"]}


def fees_collected(du, asset: str = "USD") -> Decimal:
    return sql(du, "SELECT coalesce(sum(p.amount), 0) FROM postings p JOIN ledger_accounts a ON a.id = p.account_id"
                   " WHERE a.purpose = 'fees' AND a.asset = :a", a=asset)[0][0]


def ledger_ok(du) -> bool:
    du.user_as("admin", profile="ops")
    r = du("--profile", "ops", "admin", "ledger", "verify", "--json")
    assert (r.exit_code, r.stderr) == (0, ""), r.stderr
    return r.json()["ok"] is True and r.json()["drift"] == []


@pytest.fixture
def market(du) -> dict[str, dict]:
    """Seller A (1 BTC) with a resting limit sell of 1 BTC at 50000, and buyer B (100000 USD)."""
    a = trader(du, "a", BTC="1")
    b = trader(du, "b", USD="100000.00")
    sell = placed(du, "a", "BTC-USD", "--side", "sell", "--type", "limit", "--quantity", "1", "--price", "50000")
    return {"a": a, "b": b, "sell": sell}


# the acceptance scenario


def test_a_market_buy_fills_the_resting_sell_and_moves_exactly_the_money_and_fees(du, market):
    sell = market["sell"]
    assert (sell["status"], sell["side"], sell["price"], sell["quantity"], sell["held"], sell["held_asset"]) == (
        "open", "sell", "50000.00", "1.0000", "1.00000000", "BTC")
    assert balances(du, "a")["BTC"] == {"available": "0.00000000", "held": "1.00000000"}
    assert balances(du, "b")["USD"] == {"available": "100000.00", "held": "0.00"}
    assert fees_collected(du) == 0

    buy = placed(du, "b", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.4")
    assert (buy["status"], buy["filled"], buy["remaining"], buy["average_price"], buy["fees"]) == (
        "filled", "0.4000", "0.0000", "50000.00", "40.00")
    assert [(f["price"], f["quantity"], f["fee"], f["liquidity"]) for f in buy["fills"]] == [
        ("50000.00", "0.4000", "40.00", "taker")]

    resting = trading(du, "a", "show", sell["id"]).json()
    assert (resting["status"], resting["filled"], resting["remaining"], resting["held"]) == (
        "partially_filled", "0.4000", "0.6000", "0.60000000")
    assert [(f["price"], f["quantity"], f["fee"], f["liquidity"]) for f in resting["fills"]] == [
        ("50000.00", "0.4000", "20.00", "maker")]

    # 0.4 x 50000 = 20000.00: the buyer pays 40.00 (taker 0.20 %), the seller 20.00 (maker 0.10 %)
    assert balances(du, "a") == {"BTC": {"available": "0.00000000", "held": "0.60000000"},
                                 "USD": {"available": "19980.00", "held": "0.00"}}
    assert balances(du, "b") == {"BTC": {"available": "0.40000000", "held": "0.00000000"},
                                 "USD": {"available": "79960.00", "held": "0.00"}}
    assert fees_collected(du) == D("60.00")
    assert ledger_ok(du)


def test_trades_and_positions_after_fills_show_both_sides(du, market):
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.4")
    a_trades, b_trades = trading(du, "a", "trades").json(), trading(du, "b", "trades", "--symbol", "btc-usd").json()
    assert (a_trades["total"], b_trades["total"]) == (1, 1)
    (sold,), (bought,) = a_trades["items"], b_trades["items"]
    assert sold["id"] == bought["id"] and sold["order_id"] == market["sell"]["id"]
    assert (sold["side"], sold["liquidity"], sold["price"], sold["quantity"], sold["quote_quantity"], sold["fee"],
            sold["fee_asset"]) == ("sell", "maker", "50000.00", "0.4000", "20000.00", "20.00", "USD")
    assert (bought["side"], bought["liquidity"], bought["fee"]) == ("buy", "taker", "40.00")
    assert trading(du, "b", "trades", "--symbol", "ETH-USD").json()["total"] == 0

    position = trading(du, "b", "position", "BTC-USD").json()
    assert (position["quantity"], position["average_cost"], position["last_price"], position["market_value"],
            position["unrealised_pnl"], position["fees"]) == (
        "0.4000", "50000.00", "50000.00", "20000.00", "0.00", "40.00")
    seller = trading(du, "a", "position", "BTC-USD").json()
    assert (seller["quantity"], seller["open_orders"]) == ("-0.4000", 1)
    untouched = trading(du, "b", "position", "ETH-USD").json()
    assert D(untouched["quantity"]) == 0 and untouched["market_value"] is None


def levels(side: list[dict]) -> list[tuple[Decimal, Decimal, int]]:
    return [(D(lv["price"]), D(lv["quantity"]), lv["orders"]) for lv in side]


def test_orderbook_shows_levels_best_first_the_spread_and_obeys_depth(du, market):
    for price in ("49900", "49800", "49700"):
        placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.1", "--price", price)
    book = trading(du, "b", "orderbook", "BTC-USD").json()
    assert levels(book["bids"]) == [(D(49900), D("0.1"), 1), (D(49800), D("0.1"), 1), (D(49700), D("0.1"), 1)]
    assert levels(book["asks"]) == [(D(50000), D(1), 1)]
    assert (D(book["spread"]), D(book["mid"])) == (D(100), D(49950))
    shallow = trading(du, "b", "orderbook", "btc/usd", "--depth", "2").json()
    assert [D(lv["price"]) for lv in shallow["bids"]] == [D(49900), D(49800)] and len(shallow["asks"]) == 1
    assert trading(du, "b", "orderbook", "BTC-USD", "--depth", "0").exit_code == 3


def same_number(cell: str) -> str:
    """A cell with its trailing number written without trailing zeros: "spread 10.00" -> "spread 10"."""
    words, _, number = cell.rpartition(" ")
    try:
        return f"{words} " * bool(words) + format(D(number).normalize(), "f")
    except ArithmeticError:
        return cell


def test_orderbook_on_screen_is_a_ladder_with_asks_above_the_spread_and_bids_below(du, market):
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.25", "--price", "49990")
    r = du("--profile", "b", "trading", "orderbook", "BTC-USD")
    assert (r.exit_code, r.stderr) == (0, "")
    lines = [line.split("\t") for line in r.stdout.splitlines()]
    assert lines[0] == ["bid_orders", "bid_quantity", "price", "ask_quantity", "ask_orders"]
    assert [[same_number(cell) for cell in line] for line in lines[1:]] == [
        ["", "", "50000", "1", "1"], ["", "", "spread 10", "", ""], ["1", "0.25", "49990", "", ""]]
    out = du("--profile", "b", "trading", "orderbook", "BTC-USD", "-o", "csv").stdout
    assert [(row["side"], D(row["price"]), D(row["quantity"])) for row in csv.DictReader(io.StringIO(out))] == [
        ("bid", D(49990), D("0.25")), ("ask", D(50000), D(1))]


def test_the_book_shows_prices_and_quantities_on_the_instruments_grid(du, market):
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.25", "--price", "49990")
    book = trading(du, "b", "orderbook", "BTC-USD").json()
    assert [(lv["price"], lv["quantity"]) for lv in book["bids"] + book["asks"]] == [
        ("49990.00", "0.2500"), ("50000.00", "1.0000")]
    assert (book["spread"], book["mid"]) == ("10.00", "49995.00")


def test_market_data_shows_last_price_best_prices_and_the_day(du, market):
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.4")
    data = trading(du, "b", "market-data", "BTC-USD").json()
    assert (data["symbol"], data["status"], data["last"], data["ask"], data["bid"], data["spread"]) == (
        "BTC-USD", "trading", "50000.00", "50000.00", None, None)
    assert (data["volume_24h"], D(data["quote_volume_24h"]), data["trades_24h"]) == ("0.4000", D(20000), 1)
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.1", "--price", "49990")
    data = trading(du, "b", "market-data", "btc-usd").json()
    assert (data["bid"], data["ask"], data["spread"]) == ("49990.00", "50000.00", "10.00")


def test_listing_orders_filters_by_status_and_symbol_and_pages(du, market):
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.4")
    for price in ("40000", "41000"):
        placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", price)
    everything = trading(du, "b", "orders").json()
    assert everything["total"] == 3 and [o["status"] for o in everything["items"]] == ["open", "open", "filled"]
    assert trading(du, "b", "orders", "--status", "filled").json()["total"] == 1
    assert trading(du, "b", "orders", "--status", "live", "--symbol", "BTC-USD").json()["total"] == 2
    assert trading(du, "b", "orders", "--symbol", "ETH-USD").json()["total"] == 0
    assert trading(du, "a", "orders", "--status", "partially_filled").json()["items"][0]["id"] == \
        market["sell"]["id"]
    page = trading(du, "b", "orders", "--limit", "2", "--page", "2").json()
    assert (page["page"], page["limit"], page["total"], len(page["items"])) == (2, 2, 3, 1)
    assert trading(du, "b", "orders", "--status", "done").exit_code == 3


def test_a_limit_buy_holds_its_worst_case_and_cancel_gives_it_back(du):
    trader(du, "b", USD="1000.00")
    buy = placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", "50000")
    assert (buy["status"], buy["held"], buy["held_asset"]) == ("open", "501.00", "USD")
    assert balances(du, "b")["USD"] == {"available": "499.00", "held": "501.00"}
    cancelled = trading(du, "b", "cancel", buy["id"])
    assert (cancelled.exit_code, cancelled.json()["status"], cancelled.json()["cancel_reason"]) == (
        0, "cancelled", "user")
    assert balances(du, "b")["USD"] == {"available": "1000.00", "held": "0.00"}
    again = trading(du, "b", "cancel", buy["id"])
    assert (again.exit_code, again.stdout, again.error()["code"]) == (6, "", "invalid_state")
    assert again.error()["details"]["status"] == "cancelled"


def test_modify_reprices_and_resizes_a_live_order(du):
    trader(du, "b", USD="2000.00")
    buy = placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.02", "--price", "50000")
    smaller = trading(du, "b", "modify", buy["id"], "--quantity", "0.01").json()
    assert (smaller["quantity"], smaller["held"]) == ("0.0100", "501.00")
    cheaper = trading(du, "b", "modify", buy["id"], "--price", "40000").json()
    assert (cheaper["price"], cheaper["held"]) == ("40000.00", "400.80")
    assert balances(du, "b")["USD"] == {"available": "1599.20", "held": "400.80"}
    nothing = trading(du, "b", "modify", buy["id"])
    assert (nothing.exit_code, nothing.error()["code"]) == (3, "validation_error")
    off_grid = trading(du, "b", "modify", buy["id"], "--price", "40000.001")
    assert (off_grid.exit_code, off_grid.error()["details"]["rule"]) == (3, "tick_size")


def test_close_position_sells_what_you_hold_at_market(du, market):
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.4")
    trader(du, "c", USD="50000.00")
    placed(du, "c", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.5", "--price", "49000")
    r = trading(du, "b", "close-position", "btc-usd", "--yes")
    assert (r.exit_code, r.stderr) == (0, "")
    closed = r.json()
    assert (closed["side"], closed["type"], closed["tif"], closed["status"], closed["filled"]) == (
        "sell", "market", "ioc", "filled", "0.4000")
    assert closed["fills"][0]["price"] == "49000.00"
    assert D(trading(du, "b", "position", "BTC-USD").json()["quantity"]) == 0
    flat = trading(du, "b", "close-position", "BTC-USD", "--yes")
    assert (flat.exit_code, flat.stdout, flat.error()["code"]) == (6, "", "invalid_state")


def test_close_position_repeated_with_its_key_returns_the_first_order(du, market):
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.4")
    trader(du, "c", USD="50000.00")
    placed(du, "c", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.5", "--price", "49000")
    first = trading(du, "b", "close-position", "BTC-USD", "--yes", "--idempotency-key", "flat-1")
    again = trading(du, "b", "close-position", "BTC-USD", "--yes", "--idempotency-key", "flat-1")
    assert (again.exit_code, again.json()["id"]) == (0, first.json()["id"])


# repeats


def test_a_client_order_id_repeat_returns_the_same_order_and_holds_once(du):
    trader(du, "b", USD="1000.00")
    args = ("BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.001", "--price", "40000",
            "--client-order-id", "bot-7")
    first, again = placed(du, "b", *args), placed(du, "b", *args)
    assert again["id"] == first["id"] and again["client_order_id"] == "bot-7"
    assert trading(du, "b", "orders").json()["total"] == 1
    assert balances(du, "b")["USD"]["held"] == first["held"] == "40.08"


def test_an_idempotency_key_repeat_returns_the_first_result_and_trades_once(du, market):
    args = ("BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.1", "--idempotency-key", "k-1")
    first, again = placed(du, "b", *args), placed(du, "b", *args)
    assert again == first
    assert trading(du, "b", "trades").json()["total"] == 1
    other = order(du, "b", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.2",
                  "--idempotency-key", "k-1")
    assert (other.exit_code, other.error()["code"]) == (6, "duplicate")


# exit codes


@pytest.mark.parametrize("args,rule", [
    (("--quantity", "0.01", "--price", "50000.005"), "tick_size"),
    (("--quantity", "0.00015", "--price", "50000"), "lot_size"),
    (("--quantity", "0.0001", "--price", "50000"), "min_notional"),
])
def test_a_broken_rule_exits_3_naming_the_rule_and_places_nothing(du, args, rule):
    trader(du, "b", USD="1000.00")
    r = order(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", *args)
    assert (r.exit_code, r.stdout, r.error()["code"], r.error()["details"]["rule"]) == (
        3, "", "validation_error", rule)
    assert trading(du, "b", "orders").json()["total"] == 0
    assert balances(du, "b")["USD"] == {"available": "1000.00", "held": "0.00"}


@pytest.mark.parametrize("args", [
    ("--side", "hold", "--type", "limit", "--quantity", "0.01", "--price", "50000"),
    ("--side", "buy", "--type", "iceberg", "--quantity", "0.01", "--price", "50000"),
    ("--side", "buy", "--type", "market", "--quantity", "0.01", "--price", "50000"),
    ("--side", "buy", "--type", "limit", "--quantity", "0.01"),
    ("--side", "buy", "--type", "limit", "--quantity", "-1", "--price", "50000"),
    ("--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", "50000", "--tif", "day"),
    ("--side", "buy", "--type", "market", "--quantity", "0.01", "--post-only"),
])
def test_a_malformed_order_exits_3(du, args):
    trader(du, "b", USD="1000.00")
    r = order(du, "b", "BTC-USD", *args)
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")


def test_an_unknown_symbol_or_order_exits_4(du, market):
    r = order(du, "b", "DOGE-USD", "--side", "buy", "--type", "market", "--quantity", "1")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (4, "", "not_found")
    for args in (("market-data", "DOGE-USD"), ("orderbook", "DOGE-USD"), ("position", "DOGE-USD"),
                 ("show", str(uuid.uuid4())), ("cancel", str(uuid.uuid4())),
                 ("modify", str(uuid.uuid4()), "--price", "1"), ("show", market["sell"]["id"])):
        r = trading(du, "b", *args)  # B may not see A's order either
        assert (r.exit_code, r.stdout, r.error()["code"]) == (4, "", "not_found"), args
    assert trading(du, "b", "show", "not-a-uuid").exit_code == 2


def test_a_read_only_user_placing_exits_5_and_a_guest_with_no_login_too(du):
    trader(du, "ro", "read_only", USD="1000.00")
    r = order(du, "ro", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", "50000")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied")
    r = order(du, "nobody", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.01")
    assert (r.exit_code, r.error()["code"]) == (5, "auth_required")
    assert trading(du, "ro", "account").json()["can_trade"] is False


def test_no_kyc_no_funds_or_too_large_exit_6(du):
    trader(du, "nokyc", kyc=0)
    r = order(du, "nokyc", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", "50000")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "kyc_required")

    trader(du, "poor", USD="10.00")
    r = order(du, "poor", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.001", "--price", "50000")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "insufficient_funds")
    assert balances(du, "poor")["USD"] == {"available": "10.00", "held": "0.00"}

    du.user_as("admin", profile="ops")
    assert du("--profile", "ops", "admin", "settings", "update", "max_order_notional=1000").exit_code == 0
    trader(du, "rich", USD="100000.00")
    r = order(du, "rich", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.1", "--price", "50000")
    assert (r.exit_code, r.error()["code"], r.error()["details"]["limit"]) == (6, "risk_limit", "max_order_notional")


def test_an_order_off_a_terminal_without_yes_exits_3_and_places_nothing(du):
    trader(du, "b", USD="1000.00")
    r = trading(du, "b", "order", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01",
                "--price", "50000")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")
    assert "--yes" in r.error()["message"]
    assert trading(du, "b", "orders").json()["total"] == 0
    assert trading(du, "b", "close-position", "BTC-USD").exit_code == 3


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a user's shell is."""

    def isatty(self) -> bool:
        return True


def test_on_a_terminal_an_order_is_confirmed_showing_side_quantity_and_price(du, monkeypatch):
    trader(du, "b", USD="1000.00")
    args = ("BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", "49000", "--json")
    with monkeypatch.context() as terminal:
        terminal.setattr(io, "StringIO", Terminal)  # the stdin, stdout and stderr of these calls
        declined = du("--profile", "b", "trading", "order", *args, input="n\n")
        accepted = du("--profile", "b", "trading", "order", *args, input="y\n")
    assert declined.exit_code == 1 and declined.stderr == "aborted\n"
    assert declined.stdout.startswith("Buy 0.01 BTC at 49000 limit on BTC-USD (GTC), worth 490.00 USD before fees?")
    assert accepted.exit_code == 0 and '"status": "open"' in accepted.stdout
    assert [o["price"] for o in trading(du, "b", "orders").json()["items"]] == ["49000.00"]


# what traders read


def test_pairs_and_rules_need_no_login_and_rules_show_the_fee_tiers(du):
    pairs = du("trading", "pairs", "--json")
    assert (pairs.exit_code, pairs.stderr) == (0, "")
    btc = {p["symbol"]: p for p in pairs.json()}["BTC-USD"]
    assert {"ETH-USD", "ETH-BTC"} <= {p["symbol"] for p in pairs.json()}
    assert (btc["tick_size"], btc["lot_size"], btc["min_notional"], btc["status"]) == (
        "0.01", "0.0001", "10.00", "trading")
    rules = du("trading", "rules", "--json").json()
    assert [(t["min_volume_usd"], t["maker_fee_rate"], t["taker_fee_rate"]) for t in rules["fee_tiers"]][0] == (
        "0", "0.0010", "0.0020")
    assert len(rules["fee_tiers"]) == 3 and rules["trading_enabled"] is True
    one = du("trading", "rules", "eth-usd", "--json").json()
    assert [i["symbol"] for i in one["instruments"]] == ["ETH-USD"]
    assert du("trading", "rules", "NOPE-USD", "--json").exit_code == 4
    assert du("trading", "orderbook", "BTC-USD", "--json").error()["code"] == "auth_required"


def test_account_statistics_algorithms_and_risk_after_trading(du, market):
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.4")
    placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.1", "--price", "45000")
    account = trading(du, "b", "account").json()
    assert (account["can_trade"], account["maker_fee_rate"], account["taker_fee_rate"], account["open_orders"]) == (
        True, "0.0010", "0.0020", 1)
    assert {b["asset"]: b["held"] for b in account["balances"]} == {"BTC": "0.00000000", "USD": "4509.00"}
    assert [p["symbol"] for p in account["positions"]] == ["BTC-USD"]

    stats = trading(du, "b", "statistics", "--period", "7d").json()
    assert (stats["period"], stats["by_quote"][0]["trades"], stats["by_quote"][0]["volume"],
            stats["by_quote"][0]["fees"]) == ("7d", 1, "20000.00", "40.00")
    assert stats["by_symbol"]["BTC-USD"]["trades"] == 1
    assert trading(du, "b", "statistics").json()["period"] == "30d"
    assert trading(du, "b", "statistics", "--period", "forever").exit_code == 3

    algorithms = trading(du, "b", "algorithms").json()
    assert [a["name"] for a in algorithms["order_types"]] == ["market", "limit", "stop", "stop_limit"]
    assert [a["name"] for a in algorithms["time_in_force"]] == ["gtc", "ioc", "fok"]

    risk = trading(du, "b", "risk-assessment").json()
    assert risk["status"] == "ok" and risk["held_by_asset"] == {"USD": "4509.00"}
    (exposure,) = risk["exposures"]
    assert (exposure["symbol"], exposure["open_orders"], exposure["open_buy_notional"]) == ("BTC-USD", 1, "4500.00")


def test_the_order_table_off_a_terminal_shows_the_order_and_its_fills(du, market):
    r = du("--profile", "b", "trading", "order", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.4",
           "--yes")
    assert (r.exit_code, r.stderr) == (0, "")
    lines = dict(line.split("\t", 1) for line in r.stdout.splitlines())
    assert (lines["status"], lines["filled"], lines["average_price"]) == ("filled", "0.4000", "50000.00")
    assert '"price":"50000.00"' in lines["fills"] and '"liquidity":"taker"' in lines["fills"]
    assert "\x1b[" not in r.stdout
