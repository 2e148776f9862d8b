"""Exchange rates and currency exchange on a real database: exact to the last digit, one balanced
entry, nothing written when refused, and the ECB's rates imported from a real HTTP server."""

from __future__ import annotations

import functools
import http.server
import threading
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.actor import Actor, Role
from du_core.admin import settings
from du_core.db.runner import run
from du_core.errors import Duplicate, InsufficientFunds, InvalidInput, InvalidState, KycRequired, Unavailable
from du_core.fx import ecb
from du_core.fx import service as fx
from du_core.fx.schemas import Exchange, ImportRates, RateQuery, SetRate
from du_core.ledger import book
from du_core.ledger.book import Leg
from du_core.validation import parse

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
ECB_FILE = DATA / "ecb_daily.xml"


def make_user(engine, role: str = "standard", kyc: int = 1) -> Actor:
    uid = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, phone, password_hash, role, kyc_level)"
                          " VALUES (:id, :e, :p, 'x', :r, :k)"),
                     {"id": uid, "e": f"{uid.hex[:10]}@example.com", "p": f"+8491{uid.int % 10_000_000:07d}",
                      "r": role, "k": kyc})
    return Actor(user_id=uid, role=Role(role), kyc_level=kyc)


@pytest.fixture
def admin(engine) -> Actor:
    return make_user(engine, "admin", 0)


@pytest.fixture
def user(engine) -> Actor:
    return make_user(engine)


def deposit(engine, owner: uuid.UUID, amount: str, asset: str = "USD") -> None:
    with Session(engine) as s, s.begin():
        book.post(s, kind="deposit", legs=[Leg(owner, asset, "available", D(amount)),
                                          Leg(None, asset, "external", -D(amount))])


def set_rate(engine, admin: Actor, base: str, quote: str, rate: str, *, age: timedelta | None = None):
    as_of = None if age is None else datetime.now(timezone.utc) - age
    return run(engine, fx.set_rate, parse(SetRate, base=base, quote=quote, rate=rate, as_of=as_of), actor=admin)


def exchange(engine, actor: Actor, source: str, target: str, amount: str, key: str | None = None):
    return run(engine, fx.exchange, parse(Exchange, from_currency=source, to_currency=target, amount=amount,
                                          idempotency_key=key), actor=actor)


def available(engine, owner: uuid.UUID) -> dict[str, Decimal]:
    with Session(engine) as s:
        return {code: parts["available"] for code, parts in book.balances(s, owner).items()}


def platform(engine, asset: str, purpose: str) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT coalesce(sum(p.amount), 0) FROM postings p JOIN ledger_accounts a ON a.id = p.account_id"
            " WHERE a.owner_id IS NULL AND a.asset = :a AND a.purpose = :p"), {"a": asset, "p": purpose}).scalar()


def counts(engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT count(*) FROM journal_entries), (SELECT count(*) FROM postings),"
            " (SELECT count(*) FROM idempotency_keys), (SELECT count(*) FROM audit_trails),"
            " (SELECT count(*) FROM fx_rates)")).one())


def books_ok(engine) -> bool:
    with Session(engine) as s:
        return book.verify(s).ok


# exchange


def test_exchange_is_exact_to_the_last_digit_and_one_balanced_entry(engine, admin, user):
    set_rate(engine, admin, "USD", "EUR", "0.9490")
    deposit(engine, user.user_id, "1000.00")
    result = exchange(engine, user, "USD", "EUR", "123.45")
    # 123.45 x 0.9490 = 117.15405 -> 117.15; x 0.995 = 116.56425 -> 116.56; fee 0.59
    assert (result.from_amount, result.gross_amount, result.to_amount, result.fee) == (
        D("123.45"), D("117.15"), D("116.56"), D("0.59"))
    assert (result.rate, result.spread, result.executed, result.via) == (D("0.949"), D("0.005"), True, None)
    assert available(engine, user.user_id) == {"USD": D("876.55"), "EUR": D("116.56")}
    assert platform(engine, "EUR", "fees") == D("0.59")
    assert (platform(engine, "USD", "fx"), platform(engine, "EUR", "fx")) == (D("123.45"), D("-117.15"))
    with engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind, count(*) FROM journal_entries GROUP BY kind ORDER BY kind")).all()
        legs = conn.execute(text("SELECT count(*) FROM postings WHERE entry_id = :e"), {"e": result.entry_id}).scalar()
    assert [tuple(k) for k in kinds] == [("deposit", 1), ("exchange", 1)] and legs == 5
    assert books_ok(engine)


def test_the_exchange_is_audited_with_its_amounts(engine, admin, user):
    set_rate(engine, admin, "USD", "EUR", "0.9490")
    deposit(engine, user.user_id, "200.00")
    result = exchange(engine, user, "USD", "EUR", "100.00")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT actor_id, target_id, new_values FROM audit_trails"
                                " WHERE action = 'financial.exchange'")).one()
    assert (row.actor_id, row.target_id) == (user.user_id, str(result.entry_id))
    assert row.new_values["to_amount"] == "94.42" and row.new_values["fee"] == "0.48"


def test_an_inverse_rate_prices_the_other_direction(engine, admin, user):
    set_rate(engine, admin, "EUR", "USD", "1.0537")
    deposit(engine, user.user_id, "100.00")
    result = exchange(engine, user, "USD", "EUR", "100.00")
    # 100 / 1.0537 = 94.9036... -> 94.90; x 0.995 = 94.4255 -> 94.42; fee 0.48
    assert (result.gross_amount, result.to_amount, result.fee) == (D("94.90"), D("94.42"), D("0.48"))
    assert books_ok(engine)


def test_a_cross_rate_goes_through_eur(engine, admin, user):
    set_rate(engine, admin, "EUR", "USD", "1.0537")
    set_rate(engine, admin, "EUR", "JPY", "159.56")
    deposit(engine, user.user_id, "100.00")
    result = exchange(engine, user, "USD", "JPY", "100.00")
    # 100 x 159.56 / 1.0537 = 15142.83... -> 15142 (JPY has no decimals); x 0.995 = 15066.29 -> 15066; fee 76
    assert (result.via, result.gross_amount, result.to_amount, result.fee) == ("EUR", D("15142"), D("15066"), D("76"))
    assert available(engine, user.user_id) == {"USD": D("0.00"), "JPY": D("15066")}
    assert platform(engine, "JPY", "fees") == D("76")
    assert books_ok(engine)


def test_eight_decimal_places_are_kept_and_rounded_down(engine, admin, user):
    set_rate(engine, admin, "BTC", "USD", "65432.10")
    deposit(engine, user.user_id, "1000.00")
    result = exchange(engine, user, "USD", "BTC", "1000.00")
    # 1000 / 65432.10 = 0.01528301...(28 digits) -> 0.01528301; x 0.995 = 0.0152065949... -> 0.01520659
    assert (result.gross_amount, result.to_amount, result.fee) == (D("0.01528301"), D("0.01520659"), D("0.00007642"))
    assert result.model_dump(mode="json")["fee"] == "0.00007642"
    assert books_ok(engine)


def test_without_a_spread_no_fee_leg_is_posted(engine, admin, user):
    with Session(engine) as s, s.begin():
        settings.store(s, "fx_spread", D("0"), by=None)
    set_rate(engine, admin, "USD", "EUR", "0.5")
    deposit(engine, user.user_id, "10.00")
    result = exchange(engine, user, "USD", "EUR", "10.00")
    with engine.connect() as conn:
        legs = conn.execute(text("SELECT count(*) FROM postings WHERE entry_id = :e"), {"e": result.entry_id}).scalar()
    assert (result.to_amount, result.fee, legs) == (D("5.00"), D("0.00"), 4)
    assert books_ok(engine)


def test_a_stale_rate_refuses_and_writes_nothing(engine, admin, user):
    set_rate(engine, admin, "USD", "EUR", "0.9490", age=timedelta(hours=97))
    deposit(engine, user.user_id, "100.00")
    before = counts(engine)
    with pytest.raises(InvalidState, match="stale"):
        exchange(engine, user, "USD", "EUR", "10.00")
    assert counts(engine) == before and books_ok(engine)


def test_the_newest_rate_wins_so_a_fresh_one_replaces_a_stale_one(engine, admin, user):
    set_rate(engine, admin, "USD", "EUR", "0.5", age=timedelta(hours=200))
    set_rate(engine, admin, "EUR", "USD", "1.25", age=timedelta(hours=1))
    deposit(engine, user.user_id, "100.00")
    assert exchange(engine, user, "USD", "EUR", "100.00").gross_amount == D("80.00")


def test_a_missing_rate_refuses(engine, user):
    deposit(engine, user.user_id, "100.00")
    before = counts(engine)
    with pytest.raises(InvalidState, match="no exchange rate"):
        exchange(engine, user, "USD", "GBP", "10.00")
    assert counts(engine) == before


def test_insufficient_funds_refuse_and_write_nothing(engine, admin, user):
    set_rate(engine, admin, "USD", "EUR", "0.9490")
    deposit(engine, user.user_id, "10.00")
    before = counts(engine)
    with pytest.raises(InsufficientFunds):
        exchange(engine, user, "USD", "EUR", "10.01", key="k-1")
    assert counts(engine) == before
    assert available(engine, user.user_id) == {"USD": D("10.00")} and books_ok(engine)


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "1e3", "1_000", "1,000", "１００", "-5", "0", "0.001",
                                    "1" * 21, "+5", " 5", "5 ", "5\n", ""])
def test_every_bad_amount_is_refused_before_anything_is_written(engine, admin, user, amount):
    set_rate(engine, admin, "USD", "EUR", "0.9490")
    deposit(engine, user.user_id, "100.00")
    before = counts(engine)
    with pytest.raises(InvalidInput):
        exchange(engine, user, "USD", "EUR", amount, key="bad")
    assert counts(engine) == before


def test_an_amount_too_small_to_buy_one_unit_is_refused(engine, admin, user):
    set_rate(engine, admin, "EUR", "USD", "1.0537")
    set_rate(engine, admin, "EUR", "JPY", "159.56")
    deposit(engine, user.user_id, "100", asset="JPY")
    before = counts(engine)
    with pytest.raises(InvalidInput, match="too small"):
        exchange(engine, user, "JPY", "USD", "1")  # 1 x 1.0537 / 159.56 = 0.0066 USD -> 0.00
    assert counts(engine) == before


def test_the_same_currency_on_both_sides_is_refused(engine, user):
    with pytest.raises(InvalidInput, match="same currency"):
        exchange(engine, user, "usd", "USD", "1.00")


def test_an_idempotent_repeat_returns_the_first_result_and_moves_once(engine, admin, user):
    set_rate(engine, admin, "USD", "EUR", "0.9490")
    deposit(engine, user.user_id, "100.00")
    first = exchange(engine, user, "USD", "EUR", "50.00", key="swap-1")
    set_rate(engine, admin, "USD", "EUR", "0.5")  # a new rate changes nothing for a repeat
    again = exchange(engine, user, "USD", "EUR", "50.00", key="swap-1")
    assert again == first
    assert available(engine, user.user_id) == {"USD": D("50.00"), "EUR": D("47.21")}
    with pytest.raises(Duplicate):
        exchange(engine, user, "USD", "EUR", "40.00", key="swap-1")
    assert available(engine, user.user_id)["USD"] == D("50.00") and books_ok(engine)


def test_kyc_level_0_may_not_exchange(engine, admin):
    newcomer = make_user(engine, kyc=0)
    set_rate(engine, admin, "USD", "EUR", "0.9490")
    deposit(engine, newcomer.user_id, "100.00")
    before = counts(engine)
    with pytest.raises(KycRequired):
        exchange(engine, newcomer, "USD", "EUR", "10.00")
    assert counts(engine) == before


def test_a_quote_prices_without_moving_money(engine, admin, user):
    set_rate(engine, admin, "USD", "EUR", "0.9490")
    deposit(engine, user.user_id, "200.00")
    before = counts(engine)
    quote = run(engine, fx.exchange, parse(Exchange, from_currency="USD", to_currency="EUR", amount="100.00",
                                           quote_only=True), actor=user)
    assert (quote.executed, quote.entry_id, quote.to_amount) == (False, None, D("94.42"))
    assert counts(engine) == before


# rates


def test_admin_rates_are_parsed_strictly_and_audited(engine, admin):
    view = set_rate(engine, admin, "eur", "usd", "1.053700")
    assert (view.base, view.quote, view.rate, view.source) == ("EUR", "USD", D("1.0537"), "admin")
    for bad in ("1e3", "-1", "0", "NaN", "1,05", " 1.05", "0.0000000000000000001"):
        with pytest.raises(InvalidInput):
            set_rate(engine, admin, "EUR", "USD", bad)
    with pytest.raises(InvalidInput, match="unknown currency"):
        set_rate(engine, admin, "EUR", "XYZ", "1")
    with pytest.raises(InvalidInput, match="future"):
        set_rate(engine, admin, "EUR", "USD", "1", age=timedelta(hours=-1))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM fx_rates")).scalar()
        audit = conn.execute(text("SELECT new_values FROM audit_trails WHERE action = 'admin.fx_set'")).scalars().all()
    assert rows == 1 and audit[0]["rate"] == "1.053700" and audit[0]["source"] == "admin"


def test_rates_show_age_and_staleness_directly_inverted_and_across_eur(engine, admin, user):
    set_rate(engine, admin, "EUR", "USD", "1.25", age=timedelta(hours=2, minutes=5))
    set_rate(engine, admin, "EUR", "JPY", "160", age=timedelta(hours=100))
    stored = run(engine, fx.list_rates, parse(RateQuery), actor=user)
    assert [(r.base, r.quote, r.rate, r.stale, r.source) for r in stored] == [
        ("EUR", "JPY", D("160"), True, "admin"), ("EUR", "USD", D("1.25"), False, "admin")]
    assert stored[1].age == "2h 05m" and stored[0].age == "4d 04h"
    from_usd = {r.quote: r for r in run(engine, fx.list_rates, parse(RateQuery, base="usd"), actor=user)}
    assert set(from_usd) == {"EUR", "JPY"}
    assert (from_usd["EUR"].rate, from_usd["EUR"].via, from_usd["EUR"].stale) == (D("0.8"), None, False)
    assert (from_usd["JPY"].rate, from_usd["JPY"].via, from_usd["JPY"].stale) == (D("128"), "EUR", True)


# the ECB's daily rates


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def ecb_server():
    """A real HTTP server on 127.0.0.1 serving tests/data (the recorded ECB file among it)."""
    handler = functools.partial(_Files, directory=str(DATA))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def import_from(engine, admin: Actor, url: str):
    return run(engine, fx.import_rates, parse(ImportRates, url=url), actor=admin)


def test_the_recorded_ecb_file_imports_the_listed_currencies_once(engine, admin, ecb_server):
    result = import_from(engine, admin, f"{ecb_server}/ecb_daily.xml")
    assert (result.quoted, result.new, str(result.day)) == (30, 3, "2026-11-27")
    assert result.as_of == datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)  # 16:00 in Frankfurt (CET)
    assert [(r.quote, r.rate, r.new) for r in result.rates] == [
        ("GBP", D("0.832"), True), ("JPY", D("159.56"), True), ("USD", D("1.0537"), True)]
    assert "CHF" in result.skipped and "USD" not in result.skipped
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT base, quote, rate, source, as_of FROM fx_rates ORDER BY quote")).all()
    assert [(r.base, r.quote, r.rate, r.source) for r in stored] == [
        ("EUR", "GBP", D("0.832"), "ecb"), ("EUR", "JPY", D("159.56"), "ecb"), ("EUR", "USD", D("1.0537"), "ecb")]
    again = import_from(engine, admin, f"{ecb_server}/ecb_daily.xml")
    assert again.new == 0 and not any(r.new for r in again.rates)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM fx_rates")).scalar() == 3
        audit = conn.execute(text("SELECT details FROM audit_trails WHERE action = 'admin.fx_import'"
                                  " ORDER BY occurred_at")).scalars().all()
    assert [a["new"] for a in audit] == [3, 0]


def test_a_summer_file_is_stamped_at_16_00_cest():
    assert ecb.published_at(datetime(2026, 7, 1).date()) == datetime(2026, 7, 1, 14, 0, tzinfo=timezone.utc)


def test_a_missing_file_on_the_server_is_unavailable(engine, admin, ecb_server):
    with pytest.raises(Unavailable, match="HTTP 404"):
        import_from(engine, admin, f"{ecb_server}/missing.xml")


def test_an_unreachable_source_is_unavailable(engine, admin):
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unavailable, match="cannot be reached"):
        import_from(engine, admin, f"http://127.0.0.1:{port}/eurofxref-daily.xml")


@pytest.fixture
def transport():
    """Route the ECB client through an httpx.MockTransport answering with `transport.reply(request)`."""
    holder: dict[str, object] = {}
    mock = httpx.MockTransport(lambda request: holder["reply"](request))  # type: ignore[operator]
    ecb.configure(mock)
    yield holder
    ecb.configure(None)


RECORDED = ECB_FILE.read_bytes()


def _timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize("reply,message", [
    (lambda r: httpx.Response(500, text="Internal Server Error"), "HTTP 500"),
    (_timeout, "did not answer"),
    (lambda r: httpx.Response(200, content=RECORDED[:-40]), "not well-formed"),
    (lambda r: httpx.Response(200, content=b"<html><body>maintenance</body></html>"), "gesmes envelope"),
    (lambda r: httpx.Response(200, content=b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
                              b"<lolz>&lol;</lolz>"), "DOCTYPE"),
    (lambda r: httpx.Response(200, content=RECORDED.replace(b"rate='1.0537'", b"rate='1.05e0'")), "rate of USD"),
    (lambda r: httpx.Response(200, content=RECORDED.replace(b"time='2026-11-27'", b"time='27.11.2026'")), "one day"),
    (lambda r: httpx.Response(200, content=RECORDED.replace(b"'GBP'", b"'USD'")), "quoted twice"),
    (lambda r: httpx.Response(200, content=b" " * (ecb.MAX_BYTES + 1)), "more than"),
])
def test_a_broken_source_is_a_clear_error_and_nothing_is_stored(engine, admin, transport, reply, message):
    transport["reply"] = reply
    before = counts(engine)
    with pytest.raises(Unavailable, match=message):
        import_from(engine, admin, ecb.DEFAULT_URL)
    assert counts(engine) == before


def test_the_mock_transport_serves_the_recorded_file_from_the_default_url(engine, admin, transport):
    seen: list[str] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=RECORDED)

    transport["reply"] = reply
    assert import_from(engine, admin, ecb.DEFAULT_URL).new == 3
    assert seen == ["https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"]
