"""`du market prices|ticker|history|analysis|feeds|import` as users meet them: exact JSON on
stdout, one error line on stderr, and the exit codes of CLI.md."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
ACME_CSV = DATA / "market_acme_1d.csv"
XBT_JSON = DATA / "market_xbt_klines.json"


def record_trades(du, symbol: str, trades: list[tuple[datetime, str, str]]) -> None:
    from sqlalchemy.orm import Session

    from du_core.db.engine import create
    from du_core.market import candles

    eng = create(du.url)
    try:
        with Session(eng) as s, s.begin():
            candles.record_trades(s, symbol, [(at, D(p), D(q)) for at, p, q in trades])
    finally:
        eng.dispose()


@pytest.fixture
def admin(du) -> dict:
    return du.user_as("admin", profile="ops")


def imported(du, admin, symbol: str = "ACME", path: Path = ACME_CSV, *extra: str) -> dict:
    r = du("--profile", "ops", "market", "import", symbol, "--csv", str(path), *extra, "--json")
    assert r.exit_code == 0, r.stderr
    return r.json()


def test_prices_work_without_a_login(du):
    now = datetime.now(timezone.utc).replace(second=30, microsecond=0)
    record_trades(du, "BTC-USD", [(now - timedelta(hours=2), "60000", "0.5"), (now - timedelta(minutes=5), "61000.5",
                                                                              "0.25")])
    r = du("market", "prices", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    rows = {row["symbol"]: row for row in r.json()}
    assert list(rows) == ["BTC-USD", "ETH-BTC", "ETH-USD"]
    btc = rows["BTC-USD"]
    assert (btc["last_price"], btc["open_24h"], btc["volume_24h"], btc["quote_volume_24h"]) == (
        "61000.50", "60000.00", "0.7500", "45250.125000")
    assert btc["change_percent_24h"] == "1.67"


def test_prices_as_a_table_off_a_terminal_are_tab_separated(du):
    out = du("market", "prices").stdout.splitlines()
    assert out[0].split("\t")[:3] == ["symbol", "instrument", "status"]
    assert [line.split("\t")[0] for line in out[1:]] == ["BTC-USD", "ETH-BTC", "ETH-USD"]


def test_the_ticker_upper_cases_the_symbol(du):
    r = du("market", "ticker", "eth-usd", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["symbol"] == "ETH-USD" and r.json()["volume_24h"] == "0.000"


def test_an_unknown_symbol_exits_4_and_prints_nothing(du):
    for args in (("ticker", "NOPE"), ("history", "NOPE"), ("ticker", "nope")):
        r = du("market", *args, "--json")
        assert (r.exit_code, r.stdout) == (4, "")
        assert r.error()["code"] == "not_found" and "NOPE" in r.error()["message"]


def test_a_malformed_symbol_or_interval_exits_3(du):
    r = du("market", "ticker", "BTC/USD", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")
    r = du("market", "history", "BTC-USD", "--interval", "2h", "--json")
    assert r.exit_code == 3 and "'1m', '5m', '15m', '1h', '4h' or '1d'" in r.error()["message"]


def test_admin_imports_a_csv_then_anyone_reads_its_history(du, admin):
    first = imported(du, admin, "acme")
    assert (first["symbol"], first["rows"], first["inserted"], first["unchanged"]) == ("ACME", 522, 522, 0)
    assert first["source"] == "file:market_acme_1d.csv"
    again = imported(du, admin, "ACME")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 522)
    r = du("market", "history", "acme", "--interval", "1d", "--from", "2024-12-30", "--to", "2024-12-31", "--json")
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    lines = ACME_CSV.read_text().splitlines()[-2:]
    assert [(row["start"][:10], row["close"]) for row in doc["items"]] == [
        (line.split(",")[0], format(D(line.split(",")[4]).normalize(), "f")) for line in lines]
    assert doc["source_interval"] == "1d" and doc["items"][0]["quote_volume"] is None


def test_binance_json_imports_with_format_json(du, admin):
    doc = imported(du, admin, "XBT-USDT", XBT_JSON, "--format", "json")
    assert (doc["format"], doc["inserted"]) == ("json", 366)
    r = du("market", "history", "XBT-USDT", "--interval", "1d", "--limit", "3", "--json")
    assert [row["start"][:10] for row in r.json()["items"]] == ["2024-12-29", "2024-12-30", "2024-12-31"]


def test_a_bad_csv_exits_3_naming_the_row_and_stores_nothing(du, admin, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,open,high,low,close,volume\n2024-01-01,10,11,9,10.5,100\n2024-01-02,10.5,10,9,10.8,100\n")
    r = du("--profile", "ops", "market", "import", "ACME", "--csv", str(bad), "--json")
    assert (r.exit_code, r.stdout) == (3, "")
    error = r.error()
    assert error["code"] == "validation_error"
    assert error["message"] == "row 2 (line 3): high 10 is below the close 10.8"
    assert error["details"] == {"row": 2, "line": 3}
    plain = du("--profile", "ops", "market", "import", "ACME", "--csv", str(bad))
    assert plain.exit_code == 3 and plain.stderr == "error: row 2 (line 3): high 10 is below the close 10.8\n"
    assert du("market", "history", "ACME", "--json").exit_code == 4  # still unknown: nothing was stored
    feeds = du("--profile", "ops", "market", "feeds", "--json").json()
    acme = next(f for f in feeds if f["name"] == "import:ACME:1d")
    assert (acme["status"], acme["rows"], acme["source"]) == ("failed", 0, "file:bad.csv")


def test_importing_needs_an_admin(du, tmp_path):
    r = du("market", "import", "ACME", "--csv", str(ACME_CSV), "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "auth_required")
    du.user_as("standard")
    r = du("market", "import", "ACME", "--csv", str(ACME_CSV), "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied")


def test_import_takes_exactly_one_readable_source(du, admin, tmp_path):
    for args in ((), ("--csv", str(ACME_CSV), "--source", "https://example.com/a.csv")):
        r = du("--profile", "ops", "market", "import", "ACME", *args, "--json")
        assert r.exit_code == 3 and "either --csv PATH or --source URL" in r.error()["message"]
    r = du("--profile", "ops", "market", "import", "ACME", "--csv", str(tmp_path / "missing.csv"), "--json")
    assert r.exit_code == 3 and "cannot read" in r.error()["message"]
    r = du("--profile", "ops", "market", "import", "ACME", "--source", "ftp://example.com/a.csv", "--json")
    assert r.exit_code == 3 and "http" in r.error()["message"]


def test_an_unreachable_source_exits_8(du, admin):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    r = du("--profile", "ops", "market", "import", "ACME", "--source", f"http://127.0.0.1:{port}/a.csv", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (8, "", "unavailable")


def test_analysis_needs_a_login_and_correlates_with_other_symbols(du, admin):
    imported(du, admin, "ACME")
    imported(du, admin, "XBT", XBT_JSON)
    r = du("market", "analysis", "ACME", "--json")
    assert (r.exit_code, r.stdout) == (5, "")
    r = du("--profile", "ops", "market", "analysis", "acme", "--with", "xbt", "--from", "2024-01-01", "--to",
           "2024-12-31", "--json")
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert (doc["symbol"], doc["periods_per_year"], doc["first_day"], doc["last_day"]) == (
        "ACME", 252, "2024-01-01", "2024-12-31")
    assert isinstance(doc["annualised_volatility"], float) and isinstance(doc["high"], str)
    assert [row["symbol"] for row in doc["correlation"]] == ["ACME", "XBT"]
    assert -1 <= doc["correlation"][0]["correlations"]["XBT"] <= 1
    assert doc["series"] is None
    r = du("--profile", "ops", "market", "analysis", "ACME", "--lookback", "10", "--series", "--json")
    series = r.json()["series"]
    assert [row["day"] for row in series][-1] == "2024-12-31" and series[0]["daily_return"] is None
    r = du("--profile", "ops", "market", "analysis", "ACME", "--lookback", "10", "--from", "2024-01-01", "--json")
    assert r.exit_code == 3 and "not both" in r.error()["message"]
    r = du("--profile", "ops", "market", "analysis", "ACME", "--with", "NOPE", "--json")
    assert r.exit_code == 4


def test_json_output_never_holds_nan(du, admin, tmp_path):
    flat = tmp_path / "flat.csv"
    flat.write_text("time,open,high,low,close\n2024-06-03,5,5,5,5\n2024-06-04,5,5,5,5\n2024-06-05,5,5,5,5\n"
                    "2024-06-06,5,5,5,5\n")
    imported(du, admin, "FLAT", flat)
    imported(du, admin, "ACME")
    r = du("--profile", "ops", "market", "analysis", "FLAT", "--with", "ACME", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert doc["correlation"][0]["correlations"] == {"FLAT": None, "ACME": None}
    assert any("did not change" in note for note in doc["notes"])


def test_feeds_need_a_login_and_show_each_source(du, admin):
    r = du("market", "feeds", "--json")
    assert (r.exit_code, r.stdout) == (5, "")
    imported(du, admin, "ACME")
    du.user_as("read_only")
    r = du("market", "feeds", "--json")
    assert r.exit_code == 0, r.stderr
    assert [(f["name"], f["kind"], f["status"]) for f in r.json()] == [
        ("trades:BTC-USD", "internal", "trading"), ("trades:ETH-BTC", "internal", "trading"),
        ("trades:ETH-USD", "internal", "trading"), ("import:ACME:1d", "import", "ok")]


def test_history_aggregates_and_says_so(du, admin, tmp_path):
    hourly = tmp_path / "hourly.csv"
    hourly.write_text("time,open,high,low,close,volume\n2025-03-01T00:00:00Z,10,12,9,11,1\n"
                      "2025-03-01T23:00:00Z,11,15,10,14,2\n")
    imported(du, admin, "ACME", hourly, "--interval", "1h")
    r = du("market", "history", "ACME", "--interval", "1d", "--json")
    doc = r.json()
    assert (doc["source_interval"], doc["note"]) == ("1h", "aggregated from 1h candles")
    assert [(row["open"], row["high"], row["low"], row["close"], row["volume"]) for row in doc["items"]] == [
        ("10", "15", "9", "14", "3")]
    csv_out = du("market", "history", "ACME", "--interval", "1d", "-o", "csv").stdout.splitlines()
    assert csv_out[0] == "start,open,high,low,close,volume,quote_volume,trades"
    assert csv_out[1] == "2025-03-01T00:00:00Z,10,15,9,14,3,,"
