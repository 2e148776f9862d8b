"""The bank test: 16 OS processes move random amounts between 8 accounts for 20 s while 2 readers
take snapshots. Every snapshot sums to the money deposited, no balance is ever negative, and the
books verify at the end.

The readers also read the balances one statement at a time, outside a snapshot, as a control:
those sums must come out different at least once, or the snapshot check could not fail either.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.db.engine import create
from du_core.db.runner import run
from du_core.errors import InsufficientFunds
from du_core.ledger import book
from du_core.ledger.book import Leg

pytestmark = pytest.mark.concurrency

ACCOUNTS = 8
WORKERS = 16
READERS = 2
SECONDS = 20.0
BALANCES = ("SELECT balance FROM ledger_accounts WHERE owner_id = ANY(:owners) AND asset = 'USD'"
            " AND purpose = 'available' ORDER BY id")


def open_accounts(engine) -> tuple[list[uuid.UUID], Decimal]:
    """Create ACCOUNTS users and deposit a different known amount for each; return them and the total."""
    owners, total = [], Decimal(0)
    with Session(engine) as s, s.begin():
        for n in range(ACCOUNTS):
            owner = uuid.uuid4()
            s.execute(text("INSERT INTO users (id, email, phone, password_hash) VALUES (:id, :e, :p, 'x')"),
                      {"id": owner, "e": f"bank{n}@example.com", "p": f"+8491200{n:04d}"})
            amount = Decimal(1000 + 125 * n) + Decimal("0.37")
            book.post(s, kind="deposit", legs=[Leg(owner, "USD", "available", amount),
                                              Leg(None, "USD", "external", -amount)])
            owners.append(owner)
            total += amount
    return owners, total


def transfer(session: Session, actor: object, move: tuple[uuid.UUID, uuid.UUID, Decimal]) -> None:
    """One service-shaped call: debit one user's available money, credit another's."""
    source, target, amount = move
    book.post(session, kind="transfer", legs=[Leg(source, "USD", "available", -amount),
                                              Leg(target, "USD", "available", amount)])


def reporting(work):  # noqa: ANN001, ANN201
    """Make a process body (..., start, results) report its failure and break the start barrier,
    so that the parent fails at once instead of waiting out its timeouts."""

    def body(*args: Any) -> None:
        start, results = args[-2:]
        try:
            work(*args)
        except BaseException as exc:
            results.put(("error", f"{work.__name__}: {type(exc).__name__}: {exc}"))
            start.abort()
            raise

    body.__name__ = body.__qualname__ = work.__name__
    return body


@reporting
def mover(url: str, owners: list[uuid.UUID], seed: int, start, results) -> None:  # noqa: ANN001 - mp objects
    """Worker process: random transfers between random pairs until the time is up."""
    engine = create(url)
    rng = random.Random(seed)
    committed = refused = 0
    run(engine, lambda s, a, r: s.execute(text("SELECT 1")))  # connect before the clock starts
    start.wait()
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        source, target = rng.sample(owners, 2)
        amount = Decimal(rng.randint(1, 40_000)).scaleb(-2)  # 0.01 to 400.00
        try:
            run(engine, transfer, (source, target, amount))
            committed += 1
        except InsufficientFunds:
            refused += 1
    engine.dispose()
    results.put(("mover", committed, refused))


@reporting
def reader(url: str, owners: list[uuid.UUID], start, results) -> None:  # noqa: ANN001 - mp objects
    """Reader process: alternate one-snapshot sums with statement-by-statement sums until the time is up."""
    engine = create(url)
    snapshots: Counter[str] = Counter()
    torn: Counter[str] = Counter()
    lowest = None
    with engine.connect() as plain:
        plain.execute(text("SELECT 1"))
        plain.commit()
        start.wait()
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            snapshot = engine.connect().execution_options(isolation_level="REPEATABLE READ",
                                                          postgresql_readonly=True)
            with snapshot, snapshot.begin():
                balances = snapshot.execute(text(BALANCES), {"owners": owners}).scalars().all()
            assert len(balances) == ACCOUNTS
            snapshots[str(sum(balances))] += 1
            # The control: each balance in its own READ COMMITTED statement, transfers landing in between.
            pieces = []
            for owner in owners:
                pieces.append(plain.execute(text(
                    "SELECT balance FROM ledger_accounts WHERE owner_id = :o AND asset = 'USD'"
                    " AND purpose = 'available'"), {"o": owner}).scalar_one())
                plain.commit()
            torn[str(sum(pieces))] += 1
            low = min(*balances, *pieces)
            lowest = low if lowest is None else min(lowest, low)
    engine.dispose()
    results.put(("reader", dict(snapshots), dict(torn), str(lowest)))


def test_money_moved_by_16_processes_is_never_created_lost_or_negative(db_url, engine):
    owners, total = open_accounts(engine)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS + READERS + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=mover, args=(db_url, owners, seed, start, results)) for seed in range(WORKERS)]
    procs += [ctx.Process(target=reader, args=(db_url, owners, start, results)) for _ in range(READERS)]
    try:
        for p in procs:
            p.start()
        try:
            start.wait(timeout=120)  # every process imported, connected and ready
        except threading.BrokenBarrierError:
            pytest.fail(f"a process failed before the start: {results.get(timeout=10)}")
        began = time.monotonic()
        reports = [results.get(timeout=SECONDS + 60) for _ in procs]
        elapsed = time.monotonic() - began
        for p in procs:
            p.join(timeout=30)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    assert [r for r in reports if r[0] == "error"] == []
    assert [p.exitcode for p in procs] == [0] * len(procs)

    committed = sum(r[1] for r in reports if r[0] == "mover")
    refused = sum(r[2] for r in reports if r[0] == "mover")
    snapshots: Counter[str] = Counter()
    torn: Counter[str] = Counter()
    for r in (r for r in reports if r[0] == "reader"):
        snapshots.update(r[1])
        torn.update(r[2])
        assert Decimal(r[3]) >= 0, "a reader saw a negative balance"
    print(f"\nbank: {committed} transfers committed ({committed / elapsed:.0f}/s), {refused} refused for "
          f"insufficient funds, in {elapsed:.1f} s; {sum(snapshots.values())} snapshots, "
          f"{sum(torn.values())} statement-by-statement reads ({len(torn)} different sums)")

    assert elapsed >= SECONDS
    assert committed > 500, "too few transfers to mean anything"
    assert refused > 0, "no transfer ever ran out of money: the amounts never tested the overdraft check"
    assert {Decimal(s) for s in snapshots} == {total}, "a snapshot saw money created or lost"
    assert sum(snapshots.values()) > 100
    assert len(torn) > 1, "the control never saw a transfer half-way: the snapshot check proves nothing"

    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        final = conn.execute(text(BALANCES), {"owners": owners}).scalars().all()
        check = book.verify(Session(bind=conn))
    assert sum(final) == total and min(final) >= 0
    assert check.ok, check
    assert check.postings == 2 * (ACCOUNTS + committed)
