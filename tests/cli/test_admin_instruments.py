"""`du admin instruments ...` as an operator meets it: listing, adding, changing, halting and resuming pairs."""

from __future__ import annotations

import pytest
from tests.cli.test_trading import order, placed, trader, trading


@pytest.fixture
def ops(du) -> dict:
    """An admin logged in under the profile `ops`."""
    return du.user_as("admin", profile="ops")


def instruments(du, *args: str):
    return du("--profile", "ops", "admin", "instruments", *args, "--json")


BTC_EUR = ("BTC-EUR", "--tick-size", "0.01", "--lot-size", "0.0001", "--min-quantity", "0.0001",
           "--max-quantity", "100", "--min-notional", "10")


def test_list_is_the_same_as_pairs(du, ops):
    listed = instruments(du, "list")
    assert (listed.exit_code, listed.stderr) == (0, "")
    assert listed.json() == du("trading", "pairs", "--json").json()
    assert [i["symbol"] for i in listed.json()] == ["BTC-USD", "ETH-BTC", "ETH-USD"]


def test_add_lists_a_new_pair_that_trades_at_once(du, ops):
    r = instruments(du, "add", *BTC_EUR, "--price-band", "0.1")
    assert (r.exit_code, r.stderr) == (0, "")
    added = r.json()
    assert (added["symbol"], added["base"], added["quote"], added["status"], added["tick_size"], added["lot_size"],
            added["min_notional"], added["price_band"], added["last_price"]) == (
        "BTC-EUR", "BTC", "EUR", "trading", "0.01", "0.0001", "10.00", "0.1", None)
    assert "BTC-EUR" in [p["symbol"] for p in du("trading", "pairs", "--json").json()]
    assert instruments(du, "add", "eth-eur", *BTC_EUR[1:]).json()["price_band"] == "0.05"  # the default band
    trader(du, "b", EUR="1000.00")
    bought = placed(du, "b", "BTC-EUR", "--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", "40000")
    assert (bought["status"], bought["held"], bought["held_asset"]) == ("open", "400.80", "EUR")


def test_adding_a_listed_pair_exits_6_and_bad_rules_exit_3(du, ops):
    r = instruments(du, "add", "BTC-USD", *BTC_EUR[1:])
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "duplicate")
    for args in (("XYZ-USD", *BTC_EUR[1:]),  # an asset nobody listed
                 ("BTC-EUR", *BTC_EUR[1:], "--price-band", "1.5"),
                 ("BTC-EUR", *BTC_EUR[1:7], "--max-quantity", "0.00001", "--min-notional", "10"),
                 ("BTC-EUR", *BTC_EUR[1:], "--price-band", "five"),
                 ("BTCEUR", *BTC_EUR[1:])):
        r = instruments(du, "add", *args)
        assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error"), args
    assert "BTC-EUR" not in [p["symbol"] for p in instruments(du, "list").json()]
    assert du("--profile", "ops", "admin", "instruments", "add", "BTC-EUR", "--tick-size", "0.01").exit_code == 2


def test_update_changes_only_the_rules_given_and_orders_follow_them(du, ops):
    r = instruments(du, "update", "BTC-USD", "--min-notional", "100")
    assert (r.exit_code, r.json()["min_notional"], r.json()["tick_size"]) == (0, "100.00", "0.01")
    trader(du, "b", USD="1000.00")
    small = order(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.001", "--price", "50000")
    assert (small.exit_code, small.error()["details"]["rule"]) == (3, "min_notional")
    nothing = instruments(du, "update", "BTC-USD", "--min-notional", "100")
    assert (nothing.exit_code, nothing.error()["code"]) == (3, "validation_error")
    assert instruments(du, "update", "BTC-USD").exit_code == 3
    assert instruments(du, "update", "DOGE-USD", "--tick-size", "1").exit_code == 4
    audit = du("--profile", "ops", "admin", "audit", "list", "--action", "admin.instruments_update", "--json").json()
    assert audit["total"] == 1


def test_halt_refuses_new_orders_with_exit_8_while_cancels_still_work(du, ops):
    trader(du, "b", USD="1000.00")
    resting = placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", "40000")
    halted = instruments(du, "halt", "BTC-USD")
    assert (halted.exit_code, halted.json()["status"]) == (0, "halted")

    r = order(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", "40000")
    assert (r.exit_code, r.stdout, r.error()["code"], r.error()["details"]["symbol"]) == (
        8, "", "trading_disabled", "BTC-USD")
    repriced = trading(du, "b", "modify", resting["id"], "--price", "41000")
    assert (repriced.exit_code, repriced.error()["code"]) == (8, "trading_disabled")
    other = order(du, "b", "ETH-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01", "--price", "3000")
    assert other.exit_code == 0  # only the halted pair stops
    assert [p["status"] for p in du("trading", "pairs", "--json").json() if p["symbol"] == "BTC-USD"] == ["halted"]

    cancelled = trading(du, "b", "cancel", resting["id"])
    assert (cancelled.exit_code, cancelled.json()["status"], cancelled.json()["held"]) == (0, "cancelled", "0.00")

    assert instruments(du, "halt", "BTC-USD").exit_code == 3  # already halted: nothing to change
    assert (instruments(du, "resume", "btc-usd").json()["status"]) == "trading"
    assert placed(du, "b", "BTC-USD", "--side", "buy", "--type", "limit", "--quantity", "0.01",
                  "--price", "40000")["status"] == "open"


def test_only_admins_change_instruments_and_every_attempt_is_audited(du, ops):
    trader(du, "b", USD="10.00")
    for args in (("halt", "BTC-USD"), ("add", *BTC_EUR), ("update", "BTC-USD", "--price-band", "0.1")):
        r = du("--profile", "b", "admin", "instruments", *args, "--json")
        assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied"), args
    assert instruments(du, "halt", "ETH-USD").exit_code == 0
    audit = du("--profile", "ops", "admin", "audit", "list", "--action", "admin.instruments_*", "--json").json()
    assert [(a["outcome"], a["actor_role"]) for a in audit["items"]] == [
        ("success", "admin"), ("denied", "standard"), ("denied", "standard"), ("denied", "standard")]
    assert (audit["items"][0]["target_id"], audit["items"][0]["new_values"]) == ("ETH-USD", {"status": "halted"})
