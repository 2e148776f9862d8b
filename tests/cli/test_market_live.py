"""`du market serve` and `du market watch`: the real commands against a real feed and database."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tests.integration.test_live import FeedThread, publish

DU = str(Path(sys.executable).parent / "du")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publishing(engine: Any) -> tuple[threading.Event, threading.Thread]:
    """Commit a small book change every 50 ms until the event is set."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.05):
            publish(engine, {"changes": [["buy", "100", "1"]]})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return stop, thread


def test_watch_json_prints_each_message_as_received_and_stops_after_count(du, engine):
    with FeedThread(engine) as feed:
        stop, thread = publishing(engine)
        try:
            r = du("market", "watch", "btc-usd", "--url", feed.url, "--json", "--count", "3", "--timeout", "10")
        finally:
            stop.set()
            thread.join()
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith('{"type":"snapshot","symbol":"BTC-USD","seq":1,')
    messages = [json.loads(line) for line in lines]
    assert [m["seq"] for m in messages] == [1, 2, 3]
    assert [m["type"] for m in messages[1:]] == ["book", "book"]


def test_watch_off_a_terminal_prints_one_plain_line_per_message(du, engine):
    with FeedThread(engine) as feed:
        publish(engine, {"changes": []})
        r = du("market", "watch", "BTC-USD", "--url", feed.url, "--count", "1", "--timeout", "10")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "snapshot\tBTC-USD\tbook_seq=1\tbid=\task=\n"


def test_watch_with_no_feed_listening_exits_8_with_one_line(du):
    url = f"ws://127.0.0.1:{free_port()}"
    r = du("market", "watch", "BTC-USD", "--url", url)
    assert r.exit_code == 8 and r.stdout == ""
    assert r.stderr == f"error: no market feed at {url}: start one with du market serve\n"
    j = du("market", "watch", "BTC-USD", "--url", url, "--json")
    assert j.exit_code == 8 and j.error()["code"] == "unavailable" and j.stdout == ""


def test_watch_that_gets_fewer_messages_than_count_in_time_fails_clearly(du, engine):
    with FeedThread(engine) as feed:
        short = du("market", "watch", "BTC-USD", "--url", feed.url, "--json", "--count", "5", "--timeout", "0.5")
        enough = du("market", "watch", "BTC-USD", "--url", feed.url, "--json", "--timeout", "0.5")
    assert short.exit_code == 8
    assert short.stderr.startswith('{"error"') and "timed out after 0.5 s: received 1 of 5 messages" in short.stderr
    assert enough.exit_code == 0 and json.loads(enough.stdout)["type"] == "snapshot"


def test_watch_an_unknown_or_malformed_symbol_exits_4_or_3(du, engine):
    with FeedThread(engine) as feed:
        unknown = du("market", "watch", "NOPE-USD", "--url", feed.url, "--timeout", "5")
        malformed = du("market", "watch", "nope", "--url", feed.url)
    assert unknown.exit_code == 4 and "no instrument 'NOPE-USD'" in unknown.stderr and unknown.stdout == ""
    assert malformed.exit_code == 3 and "like BTC-USD" in malformed.stderr


def test_serve_with_the_database_unreachable_exits_8(du):
    r = du("market", "serve", "--port", "0", env={"DU_DATABASE_URL": "postgresql://du@127.0.0.1:1/du"})
    assert r.exit_code == 8 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "unreachable" in r.stderr


def test_serve_on_a_port_already_taken_exits_8_and_says_so(du):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = du("market", "serve", "--port", str(port))
    assert r.exit_code == 8 and r.stdout == ""
    assert r.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and "in use" in r.stderr


def test_serve_and_watch_help_say_what_they_do(du):
    serve, watch = du("market", "serve", "--help"), du("market", "watch", "--help")
    assert serve.exit_code == 0 and "WebSocket" in serve.stdout and "--port" in serve.stdout
    assert watch.exit_code == 0 and "--count" in watch.stdout and "--timeout" in watch.stdout
    listing = du("market", "--help").stdout
    assert "serve" in listing and "watch" in listing


# -- the real processes --------------------------------------------------------------------------

def _env(db_url: str, home: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DU_")}
    return {**base, "DU_DATABASE_URL": db_url, "DU_CONFIG_DIR": str(home / "config"),
            "DU_DATA_DIR": str(home / "data"), "HOME": str(home)}


class Served:
    """`du market serve --port 0` as a process, and the address it printed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([DU, "market", "serve", "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stderr.readline()  # type: ignore[union-attr]
        found = re.search(r"ws://\S+", line)
        assert found, line + self.proc.stderr.read()  # type: ignore[union-attr]
        self.url = found.group(0)

    def stop(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, out, err


def test_serve_runs_as_a_process_logs_its_clients_and_stops_cleanly_on_sigterm(db_url, home):
    env = _env(db_url, home)
    served = Served(env)
    try:
        watch = subprocess.run([DU, "market", "watch", "BTC-USD", "--url", served.url, "--json", "--count", "1",
                                "--timeout", "10"], capture_output=True, text=True, env=env, timeout=60)
    finally:
        code, out, err = served.stop()
    assert watch.returncode == 0, watch.stderr
    assert json.loads(watch.stdout)["type"] == "snapshot"
    assert code == 0 and out == "" and "Traceback" not in err
    assert re.search(r"client 127\.0\.0\.1:\d+ connected", err) and re.search(r"127\.0\.0\.1:\d+ disconnected", err)
    assert err.rstrip().endswith("market feed stopped")


def test_a_trade_placed_with_du_trading_order_reaches_du_market_watch_within_a_second(du, db_url, home, engine):
    from du_core.ledger import book
    from du_core.ledger.book import Leg

    maker = du.user_as("standard", profile="maker")
    taker = du.user_as("standard", profile="taker")
    for user in (maker, taker):
        du.set_role(user["email"], "standard", kyc_level=1)
    with Session(engine) as s, s.begin():
        for user in (maker, taker):
            uid = uuid.UUID(user["id"])
            for asset, amount in (("USD", "100000"), ("BTC", "2")):
                book.post(s, kind="deposit", legs=[Leg(uid, asset, "available", Decimal(amount)),
                                                   Leg(None, asset, "external", -Decimal(amount))])
    sell = du("--profile", "maker", "trading", "order", "BTC-USD", "--side", "sell", "--type", "limit",
              "--quantity", "0.5", "--price", "50000", "--yes", "--json")
    assert sell.exit_code == 0, sell.stderr

    env = _env(db_url, home)
    served = Served(env)
    watch = subprocess.Popen([DU, "market", "watch", "BTC-USD", "--url", served.url, "--json", "--count", "4",
                              "--timeout", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        snapshot = json.loads(watch.stdout.readline())  # type: ignore[union-attr]
        assert snapshot["type"] == "snapshot" and [Decimal(q) for _, q, _ in snapshot["asks"]] == [Decimal("0.5")]
        buy = du("--profile", "taker", "trading", "order", "BTC-USD", "--side", "buy", "--type", "limit",
                 "--quantity", "0.2", "--price", "50000", "--yes", "--json")
        placed = time.monotonic()
        assert buy.exit_code == 0, buy.stderr
        messages = []
        while not any(m["type"] == "trade" for m in messages):
            messages.append(json.loads(watch.stdout.readline()))  # type: ignore[union-attr]
        arrived = time.monotonic()
        messages += [json.loads(line) for line in watch.stdout]  # type: ignore[union-attr]
        assert watch.wait(timeout=20) == 0, watch.stderr.read()  # type: ignore[union-attr]
    finally:
        watch.kill()
        served.stop()
    assert arrived - placed < 1.0
    trade = next(m for m in messages if m["type"] == "trade")
    assert Decimal(trade["price"]) == Decimal("50000") and Decimal(trade["quantity"]) == Decimal("0.2")
    assert trade["taker_side"] == "buy"
    book_change = next(m for m in messages if m["type"] == "book")
    assert [(s, Decimal(p), Decimal(q)) for s, p, q in book_change["changes"]] == [
        ("sell", Decimal("50000"), Decimal("0.3"))]
    assert [m["seq"] for m in [snapshot, *messages]] == [1, 2, 3, 4]

