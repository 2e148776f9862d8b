"""`du market simulate` and `du demo`: a live market for admins, refused to everyone else."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Du, sql

PASSWORD = "a long Pass phrase 42"
DU = str(Path(sys.executable).parent / "du")


def sim_users(du: Du) -> int:
    return sql(du, "SELECT count(*) FROM users WHERE email LIKE '%@sim.example'")[0][0]


def test_simulate_as_an_admin_places_real_orders_and_prints_the_summary(du):
    du.user_as("admin")
    r = du("market", "simulate", "--duration", "2", "--rate", "30", "--makers", "2", "--takers", "2", "--seed", "3",
           "--json")
    assert r.exit_code == 0, r.stderr
    summary = r.json()
    assert summary["stopped_by"] == "duration" and summary["seed"] == 3
    assert summary["placed"] > 0 and summary["trades"] > 0
    assert isinstance(summary["volume"]["BTC-USD"], str), "money stays an exact string"
    assert "orders/s" in r.stderr, "progress goes to stderr"
    assert sim_users(du) == 4
    book = du("trading", "orderbook", "BTC-USD", "--json").json()
    assert book["bids"] and book["asks"], "the makers' ladders are on the book"


def test_simulate_is_refused_to_a_non_admin_with_exit_5_and_creates_nothing(du):
    du.user_as("standard")
    r = du("market", "simulate", "--duration", "1", "--json")
    assert r.exit_code == 5 and r.stdout == ""
    assert r.error()["code"] == "permission_denied" and "admins" in r.error()["message"]
    assert sim_users(du) == 0


def test_simulate_without_a_login_exits_5(du):
    r = du("market", "simulate", "--duration", "1", "--json")
    assert r.exit_code == 5 and r.error()["code"] == "auth_required" and r.stdout == ""


def test_simulate_on_the_embedded_database_without_a_login_points_to_du_demo(home):
    r = Du("")("market", "simulate", "--duration", "1")  # no URL: the embedded database (not started for this)
    assert r.exit_code == 5 and "du demo" in r.stderr and r.stdout == ""
    assert not (home / "data" / "pgdata").exists()


@pytest.mark.parametrize("args", [("--duration", "5", "--forever"), ("--rate", "0"), ("--makers", "0", "--takers", "0"),
                                  ("--symbols", "BTC-USD,btc/usd")])
def test_bad_simulation_options_exit_3(du, args):
    du.user_as("admin")
    r = du("market", "simulate", *args, "--json")
    assert r.exit_code == 3 and r.error()["code"] == "validation_error"


def test_demo_refuses_an_external_database_without_yes(du):
    r = du("demo", "--duration", "1", "--json")
    assert r.exit_code == 3 and r.stdout == "" and "--yes" in r.error()["message"]
    assert sql(du, "SELECT count(*) FROM users")[0][0] == 0


def test_demo_sets_up_a_live_market_and_running_it_again_reuses_everything(du):
    # On the test database with --yes: the embedded server of a fresh HOME is exercised below.
    r = du("demo", "--duration", "3", "--yes", "--password-stdin", "--insecure-storage", "--json",
           input=PASSWORD + "\n")
    assert r.exit_code == 0, r.stderr
    view = r.json()
    assert (view["admin_email"], view["admin_created"], view["logged_in"]) == ("admin@demo.example", True, True)
    assert len(view["traders"]) == 6 and all(t["created"] and t["deposited"] for t in view["traders"])
    assert {(h["symbol"], h["interval"]) for h in view["history"] if h["candles"] > 0} == {
        ("BTC-USD", "1h"), ("BTC-USD", "1d"), ("ETH-USD", "1h"), ("ETH-USD", "1d")}
    assert "du trading orderbook BTC-USD" in view["next_commands"]
    assert view["simulation"]["placed"] > 0 and view["simulation"]["trades"] > 0
    assert "du trading orderbook BTC-USD" in r.stderr, "what to try next is printed as it starts"
    assert du("auth", "whoami", "--json").json()["role"] == "admin", "the admin is logged in to the profile"
    book = du("trading", "orderbook", "BTC-USD", "--json").json()
    assert book["bids"] and book["asks"]
    daily = du("market", "history", "BTC-USD", "--interval", "1d", "--limit", "200", "--json").json()
    assert len(daily["items"]) >= 100, "a generated history to chart"

    again = du("demo", "--no-simulate", "--yes", "--json")
    assert again.exit_code == 0, again.stderr
    second = again.json()
    assert second["admin_created"] is False and second["simulation"] is None
    assert [t["id"] for t in second["traders"]] == [t["id"] for t in view["traders"]]
    assert not any(t["created"] or t["deposited"] for t in second["traders"])
    assert all(h["candles"] == 0 for h in second["history"])
    assert sql(du, "SELECT count(*) FROM users")[0][0] == 7


def test_demo_refuses_a_profile_logged_in_as_a_non_admin(du):
    du.user_as("standard", "trader@example.com")
    r = du("demo", "--no-simulate", "--yes", "--json")
    assert r.exit_code == 6 and "trader@example.com" in r.error()["message"]
    assert sim_users(du) == 0


def test_demo_logs_in_an_existing_admin_with_its_password(du):
    du.user_as("admin", "boss@example.com")
    assert du("auth", "logout").exit_code == 0
    refused = du("demo", "--no-simulate", "--yes", "--json")
    assert refused.exit_code == 3 and "--password-stdin" in refused.error()["message"]
    r = du("demo", "--no-simulate", "--yes", "--email", "boss@example.com", "--password-stdin", "--insecure-storage",
           "--json", input=PASSWORD + "\n")
    assert r.exit_code == 0, r.stderr
    assert (r.json()["admin_email"], r.json()["admin_created"]) == ("boss@example.com", False)


def test_demo_without_a_keyring_warns_and_leaves_no_session_behind(du):
    r = du("demo", "--no-simulate", "--yes", "--password-stdin", "--json", input=PASSWORD + "\n",
           env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert r.exit_code == 0, r.stderr
    assert r.json()["logged_in"] is False and "--insecure-storage" in r.stderr
    assert sql(du, "SELECT revoked_reason FROM auth_sessions") == [("logout",)]


@pytest.mark.slow
def test_demo_on_a_fresh_home_starts_the_embedded_database_and_shows_a_live_book(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DU_")}
    env.update(HOME=str(tmp_path), DU_DATA_DIR=str(tmp_path / "d"), DU_CONFIG_DIR=str(tmp_path / "c"))

    def du(*args: str, input: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([DU, *args], capture_output=True, text=True, env=env, input=input, timeout=180)

    try:
        r = du("demo", "--duration", "3", "--insecure-storage", "--json")
        assert r.returncode == 0, r.stderr
        view = json.loads(r.stdout)
        assert view["database"].startswith("embedded") and view["admin_created"] and view["logged_in"]
        assert view["simulation"]["trades"] > 0
        book = json.loads(du("trading", "orderbook", "BTC-USD", "--json").stdout)
        assert book["bids"] and book["asks"]
        password = re.search(r"admin password \(shown once, keep it\): (\S+)", r.stderr).group(1)
        assert du("auth", "login", "--email", "admin@demo.example", "--password-stdin", "--insecure-storage",
                  input=password + "\n").returncode == 0, "the generated password is the admin's"
    finally:
        du("db", "stop")


def test_demo_with_tui_opens_the_workstation_on_the_admins_session_while_the_market_moves(du, home, monkeypatch):
    from du_tui.app import DuApp

    seen: dict[str, Any] = {}

    def workstation(self: DuApp) -> None:  # stands in for the terminal: what the app was given, during the run
        seen["token"] = self.token_provider(None)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not sql(du, "SELECT count(*) FROM trades")[0][0]:
            time.sleep(0.1)
        seen["trades while open"] = sql(du, "SELECT count(*) FROM trades")[0][0]

    monkeypatch.setattr(DuApp, "run", workstation)
    r = du("demo", "--tui", "--rate", "40", "--yes", "--password-stdin", "--insecure-storage", "--json",
           input=PASSWORD + "\n")
    assert r.exit_code == 0, r.stderr
    assert seen["trades while open"] > 0, "the simulation runs behind the workstation"
    assert seen["token"] == json.loads((home / "config" / "credentials" / "default.json").read_text())[
        "access_token"]
    simulation = r.json()["simulation"]
    assert simulation["stopped_by"] == "stopped" and simulation["placed"] > 0, "leaving the workstation ends the run"
    settled = sql(du, "SELECT count(*) FROM trades")[0][0]
    time.sleep(0.5)
    assert sql(du, "SELECT count(*) FROM trades")[0][0] == settled, "nothing trades after it"
