"""`du admin fx set|import` as an operator meets them: strict rates, the ECB's file from a real server."""

from __future__ import annotations

import functools
import http.server
import threading
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from tests.conftest import sql

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"




def rate_rows(du) -> list[tuple]:
    return [tuple(r) for r in sql(du, "SELECT base, quote, rate, source FROM fx_rates ORDER BY base, quote, as_of")]


def audit_count(du, action: str) -> int:
    return sql(du, "SELECT count(*) FROM audit_trails WHERE action = :a", a=action)[0][0]


@pytest.fixture
def admin(du):
    return du.user_as("admin")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """tests/data as files, plus /broken (HTTP 500) and /garbage (a web page, not the rates file)."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if self.path == "/broken":
            self.send_error(500, "Internal Server Error")
        elif self.path == "/garbage":
            body = b"<html><body>We are down for maintenance</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(DATA)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


# set


def test_an_admin_sets_a_rate_and_it_is_audited(du, admin):
    r = du("admin", "fx", "set", "eur", "usd", "1.0537", "--json")
    assert (r.exit_code, r.stderr) == (0, "")
    assert {k: r.json()[k] for k in ("base", "quote", "rate", "source")} == {
        "base": "EUR", "quote": "USD", "rate": "1.0537", "source": "admin"}
    assert rate_rows(du) == [("EUR", "USD", D("1.0537"), "admin")]
    assert audit_count(du, "admin.fx_set") == 1
    assert du("financial", "rates", "--json").json()[0]["stale"] is False


def test_as_of_without_an_offset_is_utc(du, admin):
    r = du("admin", "fx", "set", "EUR", "GBP", "0.832", "--as-of", "2026-01-02T03:04:05", "--json")
    assert r.exit_code == 0 and r.json()["as_of"] in ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00")
    stored = sql(du, "SELECT as_of FROM fx_rates")[0][0]
    assert stored == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    again = du("admin", "fx", "set", "EUR", "GBP", "0.9", "--as-of", "2026-01-02T03:04:05", "--json")
    assert (again.exit_code, again.error()["code"]) == (6, "duplicate")


@pytest.mark.parametrize("rate", ["1e3", "1E-2", "NaN", "Infinity", "0", "0.000", "1,05", "1_000", "１", "+1",
                                  " 1", "1.0000000000000000001", "1" * 21, "one"])
def test_a_rate_that_is_not_a_plain_positive_decimal_exits_3(du, admin, rate):
    before = audit_count(du, "admin.fx_set")
    r = du("admin", "fx", "set", "EUR", "USD", rate, "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")
    assert rate_rows(du) == [] and audit_count(du, "admin.fx_set") == before


def test_a_negative_rate_exits_3(du, admin):
    r = du("admin", "fx", "set", "EUR", "USD", "--json", "--", "-1.05")
    assert (r.exit_code, r.stdout) == (3, "") and rate_rows(du) == []


@pytest.mark.parametrize("base,quote", [("EUR", "EUR"), ("EUR", "XYZ"), ("", "USD")])
def test_unknown_or_equal_currencies_exit_3(du, admin, base, quote):
    r = du("admin", "fx", "set", base, quote, "1.5", "--json")
    assert r.exit_code == 3 and rate_rows(du) == []


def test_only_admins_set_rates(du):
    du.user_as("staff")
    r = du("admin", "fx", "set", "EUR", "USD", "1.05", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied")
    assert rate_rows(du) == []


# import


def test_import_from_a_local_copy_stores_listed_currencies_once(du, admin, server):
    r = du("admin", "fx", "import", "--url", f"{server}/ecb_daily.xml", "--json")
    assert (r.exit_code, r.stderr) == (0, "")
    data = r.json()
    assert (data["source"], data["day"], data["quoted"], data["new"]) == ("ecb", "2026-11-27", 30, 3)
    assert [(x["quote"], x["rate"]) for x in data["rates"]] == [("GBP", "0.832"), ("JPY", "159.56"), ("USD", "1.0537")]
    assert rate_rows(du) == [("EUR", "GBP", D("0.832"), "ecb"), ("EUR", "JPY", D("159.56"), "ecb"),
                             ("EUR", "USD", D("1.0537"), "ecb")]
    again = du("admin", "fx", "import", "--url", f"{server}/ecb_daily.xml", "--json")
    assert again.exit_code == 0 and again.json()["new"] == 0
    assert len(rate_rows(du)) == 3 and audit_count(du, "admin.fx_import") == 2


def test_import_as_a_table_says_how_many_were_new(du, admin, server):
    out = du("admin", "fx", "import", "--url", f"{server}/ecb_daily.xml").stdout
    assert "new\t3" in out and "source\tecb" in out


@pytest.mark.parametrize("path,message", [("/broken", "HTTP 500"), ("/missing.xml", "HTTP 404"),
                                          ("/garbage", "not the ECB's gesmes envelope")])
def test_a_broken_source_exits_8_and_stores_nothing(du, admin, server, path, message):
    r = du("admin", "fx", "import", "--url", f"{server}{path}", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (8, "", "unavailable")
    assert message in r.error()["message"]
    assert rate_rows(du) == [] and audit_count(du, "admin.fx_import") == 0


def test_a_url_that_is_not_http_exits_3(du, admin):
    r = du("admin", "fx", "import", "--url", "file:///etc/passwd", "--json")
    assert (r.exit_code, r.stdout) == (3, "")


def test_only_admins_import(du, server):
    du.user_as("compliance")
    r = du("admin", "fx", "import", "--url", f"{server}/ecb_daily.xml", "--json")
    assert r.exit_code == 5 and rate_rows(du) == []


def test_imported_rates_price_an_exchange_once_fresh(du, admin, server):
    assert du("admin", "fx", "import", "--url", f"{server}/ecb_daily.xml").exit_code == 0
    sql(du, "UPDATE fx_rates SET as_of = now()")  # as if the file were today's
    user = du.user_as("standard", "fx-user@example.com")
    du.set_role("fx-user@example.com", "standard", 1)
    from sqlalchemy.orm import Session

    from du_core.db.engine import create
    from du_core.ledger import book
    from du_core.ledger.book import Leg

    eng = create(du.url)
    with Session(eng) as s, s.begin():
        owner = uuid.UUID(user["id"])
        book.post(s, kind="deposit", legs=[Leg(owner, "GBP", "available", D("100.00")),
                                           Leg(None, "GBP", "external", D("-100.00"))])
    eng.dispose()
    r = du("financial", "exchange", "--from", "GBP", "--to", "USD", "--amount", "100.00", "--yes", "--json")
    # 100 x 1.0537 / 0.832 = 126.6466... -> 126.64; x 0.995 = 126.0068 -> 126.00; fee 0.64
    assert r.exit_code == 0, r.stderr
    assert (r.json()["to_amount"], r.json()["fee"], r.json()["via"]) == ("126.00", "0.64", "EUR")
