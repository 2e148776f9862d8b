"""`du market trades SYMBOL [--limit N]`: a pair's newest public trades, without a login."""

from __future__ import annotations

import pytest

from tests.cli.test_trading import placed, trader


@pytest.fixture
def traded(du) -> list[str]:
    """Two BTC-USD trades: a taker buy of 0.1 at 50000, then a taker sell of 0.05 at 49000.5.

    Returns what must stay private: the traders' ids and their orders' ids.
    """
    users = [trader(du, "a", BTC="1"), trader(du, "b", USD="100000.00")]
    orders = [placed(du, "a", "BTC-USD", "--side", "sell", "--type", "limit", "--quantity", "0.5", "--price", "50000")]
    orders.append(placed(du, "b", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.1"))
    orders.append(placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.2",
                         "--price", "49000.5"))
    orders.append(placed(du, "a", "BTC-USD", "--side", "sell", "--type", "market", "--quantity", "0.05"))
    return [user["id"] for user in users] + [order["id"] for order in orders]


def test_the_json_is_the_newest_trades_first_with_money_as_strings_and_no_owner(du, traded):
    r = du("market", "trades", "btc-usd", "--json")
    assert (r.exit_code, r.stderr) == (0, "")
    doc = r.json()
    assert list(doc) == ["symbol", "items"] and doc["symbol"] == "BTC-USD"
    assert [list(t) for t in doc["items"]] == [["id", "at", "price", "quantity", "taker_side"]] * 2
    assert [(t["price"], t["quantity"], t["taker_side"]) for t in doc["items"]] == [
        ("49000.50", "0.0500", "sell"), ("50000.00", "0.1000", "buy")]
    assert doc["items"][0]["id"] > doc["items"][1]["id"]
    assert not any(secret in r.stdout for secret in traded)


def test_the_limit_keeps_the_newest(du, traded):
    everything = du("market", "trades", "BTC-USD", "--json").json()["items"]
    r = du("market", "trades", "BTC-USD", "--limit", "1", "--json")
    assert r.exit_code == 0 and r.json()["items"] == everything[:1]


def test_the_table_off_a_terminal_is_one_tab_separated_line_per_trade(du, traded):
    r = du("market", "trades", "BTC-USD")
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and lines[0].split("\t") == ["id", "at", "price", "quantity", "taker_side"]
    assert [line.split("\t")[2:] for line in lines[1:]] == [["49000.50", "0.0500", "sell"],
                                                            ["50000.00", "0.1000", "buy"]]


def test_a_pair_without_trades_is_an_empty_list_not_an_error(du):
    r = du("market", "trades", "ETH-USD", "--json")
    assert (r.exit_code, r.json()) == (0, {"symbol": "ETH-USD", "items": []})


@pytest.mark.parametrize("args", [("BTC/USD",), ("BTC-USD", "--limit", "0"), ("BTC-USD", "--limit", "501")])
def test_a_malformed_symbol_or_limit_exits_3_and_prints_nothing(du, args):
    r = du("market", "trades", *args, "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")


def test_an_unknown_symbol_exits_4_and_prints_nothing(du):
    r = du("market", "trades", "nope", "--json")
    assert (r.exit_code, r.stdout) == (4, "")
    assert r.error()["code"] == "not_found" and "NOPE" in r.error()["message"]
