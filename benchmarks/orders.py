"""Orders per second through the exchange's service layer against the same statements sent by pgbench.

Both sides run on one fresh embedded PostgreSQL in the same run, taking turns, with 1 and with 4
clients, on a book seeded through the service (two instruments, BTC-USD and ETH-USD, 60 price
levels a side each). Every client trades as 20 users of its own, on both instruments at random,
with this mix:

- 60 % limit orders 1 to 30 steps behind the mid on their own side (buys below, sells above),
  1 to 3 lots: they rest;
- 20 % marketable orders of one lot (half market orders, half IOC limits 40 steps through the
  mid): each trades with the best maker of the other side, which stays on the book;
- 20 % cancels of one of the client's own resting orders (the newest it knows of).

The sides:

- service: `trading.place` / `trading.cancel` through `du_core.db.runner.run`, as every front end
  calls them (validation, permission and KYC checks, matching, settlement, the commit);
- raw SQL: pgbench (the server's own, `-M prepared`) running one script per kind of order, side
  and instrument, weighted as the mix, each script the statements the service sends for that
  kind, in the same order, built from the exchange's own SQL (`scripts()`), so the two cannot
  drift apart unnoticed (`--show-statements` prints both).

    python benchmarks/orders.py [--seconds 10] [--rounds 2] [--clients 1 4] [--profile]
        [--show-statements] [--setting plan_cache_mode=force_generic_plan] [--out benchmarks/results/orders.json]

`--setting` changes a server setting for both sides (ALTER SYSTEM, then a reload).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deposits import WARM_UP_SECONDS, start_server  # noqa: E402 - the same server and warm-up
from machine import cpu_model  # noqa: E402 - benchmarks/ is on the path when run as a script


USERS_PER_CLIENT = 20
FUNDS = {"USD": Decimal("1000000000"), "BTC": Decimal("1000000"), "ETH": Decimal("10000000")}
MAKER_FEE, TAKER_FEE = Decimal("0.0010"), Decimal("0.0020")  # the platform's defaults, never changed here
REST, TAKE, CANCEL = "rest", "take", "cancel"
MIX = {REST: 60, TAKE: 20, CANCEL: 20}


@dataclass(frozen=True)
class Book:
    symbol: str
    base: str
    quote: str
    mid: Decimal
    step: Decimal  # one price step of the benchmark (a multiple of the tick)
    lot: Decimal  # one lot of the benchmark (a multiple of the lot size, above the minimum notional)
    quote_places: int
    price_places: int  # of the instrument's tick size
    quantity_places: int  # of the instrument's lot size


BOOKS = (Book("BTC-USD", "BTC", "USD", Decimal("50000"), Decimal("1"), Decimal("0.001"), 2, 2, 4),
         Book("ETH-USD", "ETH", "USD", Decimal("3000"), Decimal("0.1"), Decimal("0.01"), 2, 2, 3))


def user_id(kind: int, n: int) -> uuid.UUID:
    """User n of a kind: 7 seeds the book, 8 trades through the service, 9 through pgbench."""
    return uuid.UUID(f"00000000-0000-4000-{kind}000-{n:012d}")


# --- the service side -------------------------------------------------------------------------

class Trader:
    """One client's users placing and cancelling orders through the service layer."""

    def __init__(self, url: str, n: int, seed: int) -> None:
        from du_core.actor import Actor, Role
        from du_core.db.engine import create
        from du_core.db.runner import run
        from du_core.operations import REGISTRY, load_all
        from du_core.trading.schemas import OrderRef, PlaceOrder
        from du_core.validation import parse

        load_all()
        self.run = run
        self.engine = create(url)
        self.rng = random.Random(seed)
        self.actors = [Actor(user_id=user_id(8, n * 1000 + k), role=Role.standard, kyc_level=1)
                       for k in range(USERS_PER_CLIENT)]
        self.resting: list[tuple[Any, uuid.UUID]] = []
        self.counts: Counter[str] = Counter()
        self._place, self._cancel = REGISTRY["trading.place"], REGISTRY["trading.cancel"]
        self._parse, self._order, self._ref = parse, PlaceOrder, OrderRef

    def step(self) -> None:
        """One operation of the mix."""
        from du_core.errors import DomainError

        roll = self.rng.randrange(100)
        kind = REST if roll < MIX[REST] or not self.resting else TAKE if roll < MIX[REST] + MIX[TAKE] else CANCEL
        try:
            if kind == CANCEL:
                actor, order_id = self.resting.pop()
                self.run(self.engine, self._cancel, self._parse(self._ref, order_id=order_id), actor=actor)
            else:
                actor, book = self.rng.choice(self.actors), self.rng.choice(BOOKS)
                view = self.run(self.engine, self._place, self._parse(self._order, **self.order(kind, book)),
                                actor=actor)
                if view.status in ("open", "partially_filled"):
                    self.resting.append((actor, view.id))
                self.counts["fills"] += len(view.fills)
            self.counts[kind] += 1
        except DomainError as err:
            self.counts[f"{kind} refused: {err.code}"] += 1

    def order(self, kind: str, book: Book) -> dict[str, Any]:
        side = self.rng.choice(("buy", "sell"))
        sign = -1 if side == "buy" else 1
        if kind == REST:
            return {"symbol": book.symbol, "side": side, "type": "limit", "tif": "gtc",
                    "price": str(book.mid + sign * book.step * self.rng.randint(1, 30)),
                    "quantity": str(book.lot * self.rng.randint(1, 3))}
        if self.rng.random() < 0.5:
            return {"symbol": book.symbol, "side": side, "type": "market", "tif": "ioc", "quantity": str(book.lot)}
        return {"symbol": book.symbol, "side": side, "type": "limit", "tif": "ioc", "quantity": str(book.lot),
                "price": str(book.mid - sign * book.step * 40)}


def client(url: str, n: int, seconds: float, start, results) -> None:  # noqa: ANN001 - mp objects
    """One service client process: trade for `seconds` after the common start, report what it did."""
    trader = Trader(url, n, seed=1000 + n)
    warm_until = time.monotonic() + WARM_UP_SECONDS
    while time.monotonic() < warm_until:  # imports done, statements prepared, caches warm
        trader.step()
    trader.counts.clear()
    start.wait()
    done, began, cpu = 0, time.monotonic(), time.process_time()
    while time.monotonic() - began < seconds:
        trader.step()
        done += 1
    results.put((done, time.monotonic() - began, time.process_time() - cpu, dict(trader.counts)))


def service_rate(url: str, clients: int, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(clients), ctx.Queue()
    procs = [ctx.Process(target=client, args=(url, n, seconds, start, results)) for n in range(clients)]
    for p in procs:
        p.start()
    done = [results.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join()
    count, elapsed = sum(d[0] for d in done), max(d[1] for d in done)
    counts = sum((Counter(d[3]) for d in done), Counter())
    return {"orders": count, "seconds": round(elapsed, 2), "per_second": round(count / elapsed, 1),
            "mean_latency_ms": round(1000 * sum(d[1] for d in done) / count, 2),
            "client_cpu_ms_per_order": round(1000 * sum(d[2] for d in done) / count, 2),
            "fills_per_marketable_order": round(counts["fills"] / max(1, counts[TAKE]), 2),
            "operations": dict(sorted(counts.items()))}


# --- the raw SQL side ------------------------------------------------------------------------

def _bind(sql: str, **values: str) -> str:
    """The exchange's statement `sql` with each %(name)s replaced by the SQL text given for it."""
    out = re.sub(r"%\((\w+)\)s", lambda m: values[m.group(1)], sql)
    assert "%(" not in out
    return " ".join(out.split())


def scripts() -> dict[tuple[str, str, str], str]:
    """A pgbench script per (kind, side, symbol): the statements the service sends, in its order.

    Built from the exchange's own SQL (`du_core.trading.exchange`, `positions`, `ledger.book`,
    `market.candles` through the notice). pgbench variables stand in for what the service knows in Python: the
    client's user (:u), ids it generates (md5 of random numbers), the row read from the book.
    Differences, all small: the maker read returns the best row with the amounts the service
    computes in Python (notional, fees) and skips the trader's own orders (self-trade prevention,
    so that the positions upsert never meets one user twice); a cancel of an order another client
    filled in the meantime writes nothing; ledger account ids are looked up by
    subquery (the service knows them from the lock it just took); a filled maker's lock also takes
    its quote account, and a zero leg is dropped in SQL; the cancel finds a resting order of the
    user's where the service looks up the one it was given; the positions written are not the
    users' real ones.
    """
    from du_core.trading import exchange, positions
    from du_core.ledger import book as ledger

    user = "CAST('00000000-0000-4000-9000-' || lpad(CAST(:client_id * 1000 + :u AS text), 12, '0') AS uuid)"
    order_id = "CAST(md5('o' || CAST(:r1 AS text) || '-' || CAST(:r2 AS text)) AS uuid)"
    entry_id = "CAST(md5('e' || CAST(:r1 AS text) || '-' || CAST(:r2 AS text)) AS uuid)"
    header = "\\set u random(0, %d)\n\\set r1 random(1, 1000000000000)\n\\set r2 random(1, 1000000000000)\n" % (
        USERS_PER_CLIENT - 1)

    def account(owner: str, asset: str, purpose: str) -> str:
        if owner == "NULL":
            return (f"(SELECT id FROM ledger_accounts WHERE owner_id IS NULL AND asset = '{asset}'"
                    f" AND purpose = '{purpose}')")
        return (f"(SELECT id FROM ledger_accounts WHERE owner_id = {owner} AND asset = '{asset}'"
                f" AND purpose = '{purpose}')")

    def lock_accounts(keys: list[tuple[str, str, str]]) -> str:
        return _bind(ledger._LOCK_OWNED, owners="ARRAY[" + ", ".join(k[0] for k in keys) + "]",
                     assets="ARRAY[" + ", ".join(k[1] for k in keys) + "]",
                     purposes="ARRAY[" + ", ".join(f"'{k[2]}'" for k in keys) + "]")

    def post(kind: str, created_by: str, reference: str, legs: list[tuple[str, str, str, str]]) -> str:
        # book.post's statement; legs are (owner, asset, purpose, amount) in SQL
        amounts = "ARRAY[" + ", ".join(f"CAST({leg[3]} AS numeric)" for leg in legs) + "]"
        return _bind(
            POST, id=entry_id, kind=f"'{kind}'", description="NULL", created_by=created_by,
            reference_type="'order'", reference_id=reference,
            accounts="ARRAY[" + ", ".join(account(*leg[:3]) for leg in legs) + "]",
            assets="ARRAY[" + ", ".join(f"CAST({leg[1]} AS varchar)" if leg[1].startswith(":")
                                        else f"'{leg[1]}'" for leg in legs) + "]",
            amounts=amounts)

    def notify(b: Book, symbol: str, last: str, side: str, price: str, trades: str) -> str:
        return _bind(exchange._NOTIFY, s=symbol, last=last, resync="false", pp=str(b.price_places),
                     qp=str(b.quantity_places), sides=f"ARRAY[{side}]",
                     prices=f"ARRAY[CAST({price} AS numeric)]", trades=trades)

    begin = ["BEGIN", "SELECT key, value FROM platform_settings"]
    out: dict[tuple[str, str, str], str] = {}
    for b in BOOKS:
        s = f"'{b.symbol}'"
        lock = _bind(exchange._LOCK, s=s) + " FOR NO KEY UPDATE OF i"
        count = _bind(OPEN_ORDERS, u=user)
        for side in ("buy", "sell"):
            other = "sell" if side == "buy" else "buy"
            order_by = "price, seq" if other == "sell" else "price DESC, seq"
            sign = "-" if side == "buy" else "+"
            hold = b.quote if side == "buy" else b.base

            # a limit order that rests
            price = f"({b.mid} {sign} :off * {b.step})"
            quantity = f"(:lots * {b.lot})"
            held = (f"ceil({price} * {quantity} * {1 + TAKER_FEE} * {10 ** b.quote_places}) / {10 ** b.quote_places}"
                    if side == "buy" else quantity)
            bound = f" AND price <= {price}" if side == "buy" else f" AND price >= {price}"
            values = {"id": order_id, "user_id": user, "symbol": s, "side": f"'{side}'", "type": "'limit'",
                      "tif": "'gtc'", "price": price, "stop_price": "NULL", "quantity": quantity, "filled": "0",
                      "quote_filled": "0", "fees": "0", "status": "'open'", "cancel_reason": "NULL",
                      "client_order_id": "NULL", "post_only": "false", "stp": "'cancel_newest'",
                      "hold_asset": f"'{hold}'", "held": held, "maker_fee_rate": str(MAKER_FEE),
                      "taker_fee_rate": str(TAKER_FEE)}
            out[(REST, side, b.symbol)] = "\\set off random(1, 30)\n\\set lots random(1, 3)\n" + header + ";\n".join([
                *begin, lock, count,
                f"{exchange.SELECT_ORDER} WHERE symbol = {s} AND side = '{other}' AND status IN ('open',"
                f" 'partially_filled'){bound} ORDER BY {order_by} LIMIT {exchange.PAGE}",
                _bind(exchange._INSERT_ORDER, **values),
                lock_accounts([(user, f"'{hold}'", "available"), (user, f"'{hold}'", "held")]),
                post("order", user, order_id, [(user, hold, "available", f"-({held})"), (user, hold, "held", held)]),
                notify(b, s, "NULL", f"'{side}'", price, "NULL"),
                "COMMIT"]) + ";\n"

            # a marketable order of one lot: one fill with the best maker of the other side
            unit = 10 ** b.quote_places
            read = (
                f"WITH page AS ({exchange.SELECT_ORDER} WHERE symbol = {s} AND side = '{other}' AND status IN"
                f" ('open', 'partially_filled') AND user_id <> {user} ORDER BY {order_by} LIMIT {exchange.PAGE})"
                f" SELECT id AS m_id, user_id AS m_user, price AS m_price, filled AS m_filled,"
                f" quote_filled AS m_quote, fees AS m_fees, held AS m_held,"
                f" floor(price * {b.lot} * {unit}) / {unit} AS n,"
                f" floor(floor(price * {b.lot} * {unit}) / {unit} * {TAKER_FEE} * {unit}) / {unit} AS tfee,"
                f" floor(floor(price * {b.lot} * {unit}) / {unit} * {MAKER_FEE} * {unit}) / {unit} AS mfee,"
                f" quantity - filled <= {b.lot} AS m_done"
                f" FROM page ORDER BY {order_by} LIMIT 1 \\gset")
            pays = f"CAST(:n AS numeric) + CAST(:mfee AS numeric)" if other == "buy" else str(b.lot)
            m_held_after = f"CASE WHEN :m_done THEN 0 ELSE CAST(:m_held AS numeric) - ({pays}) END"
            m_hold = b.quote if other == "buy" else b.base
            taker_values = {**values, "side": f"'{side}'", "type": "'market'", "tif": "'ioc'", "price": "NULL",
                            "quantity": str(b.lot), "filled": str(b.lot), "quote_filled": ":n",
                            "fees": ":tfee", "status": "'filled'", "hold_asset": f"'{hold}'", "held": "0"}
            maker_update = _bind(
                exchange._UPDATE_ORDERS, ids="ARRAY[CAST(:m_id AS uuid)]",
                filled=f"ARRAY[CAST(:m_filled AS numeric) + {b.lot}]",
                quote_filled="ARRAY[CAST(:m_quote AS numeric) + CAST(:n AS numeric)]",
                fees="ARRAY[CAST(:m_fees AS numeric) + CAST(:mfee AS numeric)]",
                status="ARRAY[CASE WHEN :m_done THEN 'filled' ELSE 'partially_filled' END]",
                reason="ARRAY[CAST(NULL AS varchar)]", held=f"ARRAY[{m_held_after}]")
            maker = "CAST(:m_user AS uuid)"
            if side == "buy":  # the taker pays quote, gets base; the maker (a sell) pays base from held
                legs = [(user, b.quote, "available", "-(CAST(:n AS numeric) + CAST(:tfee AS numeric))"),
                        (user, b.base, "available", str(b.lot)),
                        (maker, b.base, "held", f"-{b.lot}"),
                        (maker, b.quote, "available", "CAST(:n AS numeric) - CAST(:mfee AS numeric)")]
                keys = [(user, f"'{b.quote}'", "available"), (user, f"'{b.base}'", "available"),
                        (maker, f"'{b.base}'", "held"), (maker, f"'{b.quote}'", "available")]
            else:  # the taker pays base, gets quote; the maker (a buy) pays quote and fee from held
                leftover = f"CASE WHEN :m_done THEN CAST(:m_held AS numeric) - ({pays}) ELSE 0 END"
                legs = [(user, b.base, "available", f"-{b.lot}"),
                        (user, b.quote, "available", "CAST(:n AS numeric) - CAST(:tfee AS numeric)"),
                        (maker, b.quote, "held", f"-({pays}) - ({leftover})"),
                        (maker, b.base, "available", str(b.lot)),
                        (maker, b.quote, "available", leftover)]
                keys = [(user, f"'{b.base}'", "available"), (user, f"'{b.quote}'", "available"),
                        (maker, f"'{b.quote}'", "held"), (maker, f"'{b.base}'", "available"),
                        (maker, f"'{b.quote}'", "available")]
            legs.append(("NULL", b.quote, "fees", "CAST(:tfee AS numeric) + CAST(:mfee AS numeric)"))
            buyer, seller = (user, maker) if side == "buy" else (maker, user)
            buy_order, sell_order = (order_id, "CAST(:m_id AS uuid)") if side == "buy" else ("CAST(:m_id AS uuid)",
                                                                                             order_id)
            buyer_fee, seller_fee = (":tfee", ":mfee") if side == "buy" else (":mfee", ":tfee")
            signed = (b.lot, -b.lot) if side == "buy" else (-b.lot, b.lot)
            # the trade notice's size and shape (pgbench would take ":00" in a time for a variable)
            trades_json = ("'[{\"id\": 1, \"price\": \"" + str(b.mid) + ".00\", \"quantity\": \"" + str(b.lot)
                           + "\", \"taker_side\": \"" + side + "\", \"at\": \"2026-11-30T00.00.00.000000+00.00\"}]'")
            out[(TAKE, side, b.symbol)] = header + ";\n".join([
                *begin, lock, count]) + ";\n" + read + "\n" + ";\n".join([
                _bind(exchange._INSERT_ORDER, **taker_values),
                maker_update,
                lock_accounts(keys),
                post("trade", user, order_id, legs).replace(
                    "ORDER BY leg.n", "WHERE leg.amount <> 0 ORDER BY leg.n"),
                _bind(positions._READ, s=s, users=f"ARRAY[{user}, {maker}]"),
                _bind(positions._UPSERT, s=s, users=f"ARRAY[{user}, {maker}]",
                      q=f"ARRAY[{signed[0]}, {signed[1]}]",
                      c="ARRAY[CAST(:m_price AS numeric), CAST(:m_price AS numeric)]",
                      r="ARRAY[0, 0]", f=f"ARRAY[CAST({buyer_fee if side == 'buy' else seller_fee} AS numeric),"
                                         f" CAST({seller_fee if side == 'buy' else buyer_fee} AS numeric)]",
                      v="ARRAY[CAST(:n AS numeric), CAST(:n AS numeric)]"),
                _bind(exchange._INSERT_TRADES, symbol=s, price="ARRAY[CAST(:m_price AS numeric)]",
                      quantity=f"ARRAY[{b.lot}]", quote="ARRAY[CAST(:n AS numeric)]", taker_side=f"ARRAY['{side}']",
                      buy=f"ARRAY[{buy_order}]", sell=f"ARRAY[{sell_order}]", buyer=f"ARRAY[{buyer}]",
                      seller=f"ARRAY[{seller}]", buyer_fee=f"ARRAY[CAST({buyer_fee} AS numeric)]",
                      seller_fee=f"ARRAY[CAST({seller_fee} AS numeric)]", buyer_pnl="ARRAY[CAST(NULL AS numeric)]",
                      seller_pnl="ARRAY[CAST(NULL AS numeric)]", entry=f"ARRAY[{entry_id}]"),
                _bind(exchange._STOPS, s=s, high="CAST(:m_price AS numeric)", low="CAST(:m_price AS numeric)"),
                # the service writes the candles in the statement that notifies the feed
                _bind(exchange._notify_recording().replace("TIMESTAMPTZ '1970-01-01 00:00:00+00'",
                                                           "TIMESTAMPTZ 'epoch'"),
                      symbol=s, at="ARRAY[now()]", price="ARRAY[CAST(:m_price AS numeric)]",
                      quantity=f"ARRAY[{b.lot}]", s=s, last="CAST(:m_price AS numeric)", resync="false",
                      pp=str(b.price_places), qp=str(b.quantity_places), sides=f"ARRAY['{other}']",
                      prices="ARRAY[CAST(:m_price AS numeric)]", trades=trades_json),
                "COMMIT"]) + ";\n"
    # a cancel of one of the user's resting orders (of either side, on either book)
    b = BOOKS[0]  # for the places of the notice's figures, the same on both books
    out[(CANCEL, "any", "any")] = header + ";\n".join([*begin]) + ";\n" + "\n".join([
        f"SELECT id AS oid, symbol AS sym FROM orders WHERE user_id = {user}"
        " AND status IN ('open', 'partially_filled') LIMIT 1 \\gset",
        _bind(exchange._LOCK, s="CAST(:sym AS varchar)") + " FOR NO KEY UPDATE OF i;",
        f"{exchange.SELECT_ORDER} WHERE id = :oid \\gset o_",
        _bind(exchange._UPDATE_ORDERS, ids="ARRAY[CAST(:oid AS uuid)]", filled="ARRAY[CAST(:o_filled AS numeric)]",
              quote_filled="ARRAY[CAST(:o_quote_filled AS numeric)]", fees="ARRAY[CAST(:o_fees AS numeric)]",
              status="ARRAY['cancelled']", reason="ARRAY['user']", held="ARRAY[0]")
        # filled by another client since it was found: the service refuses (invalid_state), this does nothing
        + " AND o.status IN ('open', 'partially_filled');",
        lock_accounts([(user, "CAST(:o_hold_asset AS varchar)", "held"),
                       (user, "CAST(:o_hold_asset AS varchar)", "available")]) + ";",
        _bind(POST, id=entry_id, kind="'release'", description="NULL", created_by=user,
              reference_type="'order'", reference_id=":oid",
              accounts=f"ARRAY[(SELECT id FROM ledger_accounts WHERE owner_id = {user} AND asset = :o_hold_asset"
                       f" AND purpose = 'held'), (SELECT id FROM ledger_accounts WHERE owner_id = {user}"
                       " AND asset = :o_hold_asset AND purpose = 'available')]",
              assets="ARRAY[CAST(:o_hold_asset AS varchar), CAST(:o_hold_asset AS varchar)]",
              amounts="ARRAY[-CAST(:o_held AS numeric), CAST(:o_held AS numeric)]").replace(
            "ORDER BY leg.n", "WHERE leg.amount <> 0 ORDER BY leg.n") + ";",
        notify(b, "CAST(:sym AS varchar)", "NULL", "CAST(:o_side AS varchar)", ":o_price", "NULL") + ";",
        "COMMIT;"]) + "\n"
    return out


# Statements the service sends that are written inline (not module constants) in du_core.
OPEN_ORDERS = ("SELECT count(*) FROM orders WHERE user_id = %(u)s"
               " AND status IN ('pending_trigger', 'open', 'partially_filled')")  # trading/service.py open_orders()
POST = (  # ledger/book.py post()
    "WITH entry AS (INSERT INTO journal_entries (id, kind, description, created_by, reference_type,"
    " reference_id) VALUES (%(id)s, %(kind)s, %(description)s, %(created_by)s, %(reference_type)s,"
    " %(reference_id)s)) INSERT INTO postings (entry_id, account_id, asset, amount)"
    " SELECT %(id)s, leg.account_id, leg.asset, leg.amount"
    " FROM unnest(%(accounts)s::uuid[], %(assets)s::varchar[], %(amounts)s::numeric[])"
    " WITH ORDINALITY AS leg(account_id, asset, amount, n) ORDER BY leg.n"
)


def write_scripts(root: Path) -> list[str]:
    """Write the scripts; return pgbench's -f arguments with each script's weight in the mix."""
    args = []
    found = scripts()
    per = {kind: MIX[kind] / sum(1 for k in found if k[0] == kind) for kind in MIX}
    for (kind, side, symbol), text in found.items():
        path = root / f"{kind}-{side}-{symbol}.sql"
        path.write_text(text)
        args += ["-f", f"{path}@{max(1, round(per[kind] * 10))}"]
    return args


def raw_rate(url: str, bin_dir: Path, clients: int, seconds: float, files: list[str]) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    pgbench = bin_dir / "pgbench" if (bin_dir / "pgbench").exists() else Path(shutil.which("pgbench") or "pgbench")

    def command(duration: float) -> list[str]:
        return [str(pgbench), "-n", "-M", "prepared", *files, "-c", str(clients), "-j", str(clients),
                "-T", str(max(1, round(duration))), "-h", str(u.query["host"]), "-p", str(u.query["port"]),
                "-U", "postgres", u.database or "postgres"]

    subprocess.run(command(WARM_UP_SECONDS), check=True, capture_output=True)
    done = subprocess.run(command(seconds), capture_output=True, text=True)
    if done.returncode != 0:  # a client's statement failed: the run is incomplete
        raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    out = done.stdout
    count = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    return {"orders": count, "seconds": seconds, "per_second": round(tps, 1), "mean_latency_ms": latency}


# --- set-up ----------------------------------------------------------------------------------

def prepare(url: str, clients: int) -> dict[str, int]:
    """Migrate; fund the seed, service and pgbench users; seed both books through the service.

    The pgbench users also place a few resting orders each (creating their held accounts, and
    giving their cancels something to cancel). Returns the size of the book.
    """
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from du_core.actor import Actor, Role
    from du_core.db.engine import create, upgrade
    from du_core.db.runner import run
    from du_core.ledger import book
    from du_core.ledger.book import Leg
    from du_core.operations import REGISTRY, load_all
    from du_core.trading.schemas import PlaceOrder
    from du_core.validation import parse

    engine = create(url)
    upgrade(engine)
    load_all()
    users = [user_id(7, n) for n in range(2)]
    users += [user_id(kind, c * 1000 + k) for kind in (8, 9) for c in range(clients) for k in range(USERS_PER_CLIENT)]
    with Session(engine) as s, s.begin():
        # a trader may have this many orders open: a benchmark user places thousands
        s.execute(text("INSERT INTO platform_settings (key, value) VALUES ('max_open_orders', '100000')"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value"))
        for n, uid in enumerate(users):
            s.execute(text("INSERT INTO users (id, email, phone, password_hash, role, kyc_level)"
                           " VALUES (:id, :e, :p, 'x', 'standard', 1) ON CONFLICT DO NOTHING"),
                      {"id": uid, "e": f"{uid.hex[-16:]}@bench.example.com", "p": f"+849{n:08d}"})
            for asset, amount in FUNDS.items():
                book.post(s, kind="deposit", legs=[Leg(uid, asset, "available", amount),
                                                   Leg(None, asset, "external", -amount)])

    def place(uid: uuid.UUID, b: Book, side: str, steps: int, lots: int) -> None:
        sign = -1 if side == "buy" else 1
        run(engine, REGISTRY["trading.place"], parse(
            PlaceOrder, symbol=b.symbol, side=side, type="limit", quantity=str(b.lot * lots),
            price=str(b.mid + sign * b.step * steps)), actor=Actor(user_id=uid, role=Role.standard, kyc_level=1))

    for b in BOOKS:
        for steps in range(1, 61):
            for side in ("buy", "sell"):
                for seed in users[:2]:
                    place(seed, b, side, steps, 5)
    for b in BOOKS:  # a first trade: the platform's fee account of the quote asset exists from now on
        run(engine, REGISTRY["trading.place"], parse(PlaceOrder, symbol=b.symbol, side="buy", type="market",
                                                      quantity=str(b.lot)),
            actor=Actor(user_id=users[1], role=Role.standard, kyc_level=1))
    for c in range(clients):
        for k in range(USERS_PER_CLIENT):
            for b in BOOKS:
                for side in ("buy", "sell"):
                    for _ in range(3):
                        place(user_id(9, c * 1000 + k), b, side, 31, 1)
    depth = book_depth(engine)
    engine.dispose()
    return depth


def book_depth(engine: Any) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return {symbol: n for symbol, n in conn.execute(text(
            "SELECT symbol, count(*) FROM orders WHERE status IN ('open', 'partially_filled') GROUP BY symbol"))}


# --- where the time goes -----------------------------------------------------------------------

def trace(url: str) -> dict[str, list[str]]:
    """The statements (round trips) one service order of each kind sends, BEGIN and COMMIT included."""
    from psycopg._connection_base import BaseConnection

    import psycopg

    trader = Trader(url, 0, seed=5)
    for _ in range(50):
        trader.step()
    log: list[str] = []
    command, execute = BaseConnection._exec_command, psycopg.Cursor.execute

    def traced_command(self, cmd, *args, **kwargs):  # type: ignore[no-untyped-def]
        log.append(bytes(cmd).decode() if isinstance(cmd, (bytes, bytearray)) else str(cmd))
        return (yield from command(self, cmd, *args, **kwargs))

    def traced_execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        log.append(" ".join(str(query).split()))
        return execute(self, query, params, **kwargs)

    BaseConnection._exec_command, psycopg.Cursor.execute = traced_command, traced_execute  # type: ignore[method-assign]
    out: dict[str, list[str]] = {}
    try:
        from du_core.db.runner import run

        actor = trader.actors[0]
        for _ in range(2):  # the second time round: this user's accounts exist, the statements are prepared
            out.clear()
            for kind in (REST, TAKE):
                log.clear()
                view = run(trader.engine, trader._place,
                           trader._parse(trader._order, **trader.order(kind, BOOKS[0])), actor=actor)
                out[f"{kind} ({view.status}, {len(view.fills)} fill{'s' if len(view.fills) != 1 else ''})"] = list(log)
                if kind == REST:
                    resting = view.id
            log.clear()
            run(trader.engine, trader._cancel, trader._parse(trader._ref, order_id=resting), actor=actor)
            out[CANCEL] = list(log)
    finally:
        BaseConnection._exec_command, psycopg.Cursor.execute = command, execute  # type: ignore[method-assign]
        trader.engine.dispose()
    return out


def profile(url: str, orders: int = 1500) -> str:
    """Where one service client's time goes, alone on the server: per order, its wall time split into
    client CPU and the wait for the server (statements, round trips, commit), how long it holds its
    instrument's lock, each statement's latency, the client CPU by library, and cProfile's top."""
    import psycopg

    trader = Trader(url, 0, seed=11)
    for _ in range(200):
        trader.step()
    latency: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    held = {"since": 0.0, "total": 0.0}
    execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def timed_execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return execute(self, query, params, **kwargs)
        finally:
            key = " ".join(str(query).split())[:72]
            latency[key] += time.perf_counter() - started
            calls[key] += 1
            if "FOR NO KEY UPDATE" in key or "FOR NO KEY UPDATE" in str(query):
                held["since"] = started

    def timed_commit(self):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return commit(self)
        finally:
            latency["COMMIT"] += time.perf_counter() - started
            calls["COMMIT"] += 1
            if held["since"]:
                held["total"] += time.perf_counter() - held["since"]
                held["since"] = 0.0

    psycopg.Cursor.execute, psycopg.Connection.commit = timed_execute, timed_commit  # type: ignore[method-assign]
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(orders):
            trader.step()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        psycopg.Cursor.execute, psycopg.Connection.commit = execute, commit  # type: ignore[method-assign]
    with trader.engine.connect() as conn:  # one bare round trip, for scale
        raw = conn.connection.driver_connection
        started = time.perf_counter()
        for _ in range(500):
            raw.execute("SELECT 1").fetchone()
        round_trip = (time.perf_counter() - started) / 500
    per = 1000 / orders
    lines = [
        f"one service client alone on the server, {orders} orders of the mix, per order:",
        f"  {wall * per:6.2f} ms wall ({orders / wall:.0f} orders/s)",
        f"  {cpu * per:6.2f} ms client CPU (service code, SQLAlchemy, psycopg: see below)",
        f"  {(wall - cpu) * per:6.2f} ms waiting for the server: {sum(calls.values()) / orders:.1f} round trips"
        f" (an empty one, SELECT 1, takes {1000 * round_trip:.3f} ms from Python), the statements' work, the commit",
        f"  {held['total'] * per:6.2f} ms holding the instrument's lock (from the locking statement to the end of"
        f" the commit): one book takes at most {1000 / max(held['total'] * per, 1e-9):.0f} orders/s",
        "  each statement's latency as the client sees it (psycopg's own work included), calls x mean = ms:"]
    for key, total in latency.most_common(20):
        lines.append(f"    {calls[key] * per / 1000:5.2f} x {1000 * total / calls[key]:6.3f}"
                     f" = {total * per:6.3f}  {key}")
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(orders):
        trader.step()
    profiler.disable()
    trader.engine.dispose()
    stats = pstats.Stats(profiler)
    raw_stats = stats.stats  # type: ignore[attr-defined]
    by_library: Counter[str] = Counter()
    for (file, _, _), (_, _, own, _, _) in raw_stats.items():
        library = next((name for name in ("du_core", "sqlalchemy", "psycopg", "pydantic") if f"/{name}/" in file),
                       "built-ins" if file == "~" else "other (stdlib, benchmark)")
        by_library[library] += own
    everything = sum(by_library.values()) or 1.0
    lines.append("  client CPU by library (cProfile's own time; shares applied to the unprofiled figure):")
    for library, own in by_library.most_common():
        lines.append(f"    {cpu * per * own / everything:6.2f} ms  {100 * own / everything:3.0f} %  {library}")
    text_out = io.StringIO()
    stats.stream = text_out  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(r"du_core", 25)
    stats.sort_stats("tottime").print_stats(15)
    return "\n".join(lines) + "\n" + text_out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=2, help="Let the sides take turns this many times; "
                                                              "the best run of each is reported.")
    parser.add_argument("--profile", action="store_true", help="Also profile one service client.")
    parser.add_argument("--show-statements", action="store_true",
                        help="Print the statements of one service order of each kind, and the pgbench scripts.")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="A server setting for both sides, e.g. plan_cache_mode=force_generic_plan.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    load_at_start = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="du-bench-orders-"))
    server, url, bin_dir = start_server(root)
    try:
        if args.setting:
            import psycopg
            from sqlalchemy.engine import make_url

            u = make_url(url)
            with psycopg.connect(host=u.query["host"], port=u.query["port"], user="postgres", dbname="postgres",
                                 autocommit=True) as conn:
                for setting in args.setting:
                    name, value = setting.split("=", 1)
                    conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                conn.execute("SELECT pg_reload_conf()")
        started = time.monotonic()
        depth = prepare(url, max(args.clients))
        print(f"set up in {time.monotonic() - started:.0f} s; book: {depth}", file=sys.stderr)
        files = write_scripts(root)
        traced = trace(url)
        if args.show_statements:
            for kind, statements in traced.items():
                print(f"== service, {kind}: {len(statements)} round trips")
                print("\n".join(f"   {s[:160]}" for s in statements))
            for path in sorted(root.glob("*.sql")):
                print(f"== pgbench {path.name}\n{path.read_text()}")
        round_trips = {kind: len(statements) for kind, statements in traced.items()}
        results: dict[str, Any] = {}
        for clients in args.clients:
            runs: dict[str, list[dict[str, Any]]] = {"service": [], "raw": []}
            for _ in range(args.rounds):  # alternated, so that a noisy minute hits both sides
                runs["service"].append(service_rate(url, clients, args.seconds))
                runs["raw"].append(raw_rate(url, bin_dir, clients, args.seconds, files))
            best = {side: max(r, key=lambda x: x["per_second"]) for side, r in runs.items()}
            results[f"{clients} client{'s' if clients > 1 else ''}"] = {
                "service": best["service"], "raw_sql_pgbench": best["raw"],
                "ratio_service_to_raw": round(best["service"]["per_second"] / best["raw"]["per_second"], 2),
                "per_second_each_round": {side: [x["per_second"] for x in r] for side, r in runs.items()},
            }
        from du_core.db.engine import create

        engine = create(url)
        depth_after = book_depth(engine)
        engine.dispose()
        version = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True).stdout
        report = {
            "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(),
                        "server": version.strip() + " (embedded, fsync on, "
                                  + (", ".join(args.setting) or "default settings") + ")",
                        "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg()},
            "date": time.strftime("%Y-%m-%d"),
            "seconds_per_run": args.seconds,
            "rounds": args.rounds,
            "mix": MIX,
            "round_trips_per_order": {**round_trips, "mix average": round(
                (MIX[REST] * next(v for k, v in round_trips.items() if k.startswith(REST))
                 + MIX[TAKE] * next(v for k, v in round_trips.items() if k.startswith(TAKE))
                 + MIX[CANCEL] * round_trips[CANCEL]) / 100, 1)},
            "book_resting_orders": {"before": depth, "after": depth_after},
            "results": results,
        }
        profile_text = profile(url) if args.profile else None
    finally:
        from du_core.db.engine import dispose_all

        dispose_all()
        server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)
    text = json.dumps(report, indent=2)
    print(text)
    if profile_text:
        print(profile_text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
