"""`du admin dashboard` as an operator meets it: the platform's figures, and nothing for anyone else."""

from __future__ import annotations

from tests.cli.test_trading import placed, trader


def dashboard(du, *args: str):
    return du("--profile", "ops", "admin", "dashboard", *args)


def test_dashboard_json_counts_the_days_trading_and_the_accounts(du):
    du.user_as("admin", profile="ops")
    trader(du, "seller", BTC="1")
    trader(du, "buyer", USD="10000.00")
    placed(du, "seller", "BTC-USD", "--side", "sell", "--type", "limit", "--quantity", "0.1", "--price", "50000")
    placed(du, "buyer", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.04")

    r = dashboard(du, "--json")

    assert (r.exit_code, r.stderr) == (0, "")
    data = r.json()
    usd = next(q for q in data["trading_24h"] if q["quote"] == "USD")
    # 0.04 x 50000 = 2000.00; maker 0.10 % (2.00) + taker 0.20 % (4.00)
    assert usd == {"quote": "USD", "trades": 1, "volume": "2000.00", "fees": "6.00"}
    assert (data["users_total"], data["users_new_24h"], data["users_by_role"]) == (3, 3, {"admin": 1, "standard": 2})
    assert data["open_orders"] == 1
    btc_usd = next(i for i in data["instruments"] if i["symbol"] == "BTC-USD")
    assert btc_usd == {"symbol": "BTC-USD", "status": "trading", "last_price": "50000.00", "open_orders": 1}
    assert (data["trading_enabled"], data["maintenance_mode"]) == (True, False)


def test_dashboard_follows_a_halt_and_the_maintenance_switch(du):
    du.user_as("admin", profile="ops")
    assert du("--profile", "ops", "admin", "instruments", "halt", "ETH-USD").exit_code == 0
    assert du("--profile", "ops", "admin", "settings", "update", "maintenance_mode=on").exit_code == 0

    data = dashboard(du, "--json").json()

    assert {i["symbol"]: i["status"] for i in data["instruments"]}["ETH-USD"] == "halted"
    assert data["maintenance_mode"] is True


def test_dashboard_table_names_the_figures_off_a_terminal(du):
    du.user_as("admin", profile="ops")
    r = dashboard(du)
    assert (r.exit_code, r.stderr) == (0, "")
    lines = r.stdout.splitlines()
    assert "trading_enabled\tyes" in lines and "maintenance_mode\tno" in lines
    assert "open_orders\t0" in lines and "users_total\t1" in lines


def test_a_standard_user_gets_exit_5_and_an_empty_stdout(du):
    du.user_as("standard", profile="ops")
    r = dashboard(du, "--json")
    assert (r.exit_code, r.stdout) == (5, "")
    assert r.error()["code"] == "permission_denied"
    assert "admin.dashboard" in r.error()["message"]


def test_without_a_login_the_dashboard_exits_5_asking_to_log_in(du):
    r = dashboard(du, "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "auth_required")
