"""The crash test: kill -9 processes that move money, place, spend, void and expire holds, some
of them on purpose between the ledger insert and the commit. Afterwards the books verify (no
drift, no unbalanced entry, no orphaned hold), no money was created or lost, every hold resolved
at most once, and a deposit retried with its idempotency key after a kill applies exactly once.

Processes are killed only where they share no lock with the others: they report through
lock-free shared integers, never a queue.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.actor import Actor, Role
from du_core.db.engine import create
from du_core.db.runner import run
from du_core.errors import InsufficientFunds, InvalidState
from du_core.ledger import book
from du_core.ledger.book import Leg

pytestmark = pytest.mark.concurrency

ACCOUNTS = 8
LOAD_SECONDS = 20.0
LOAD = ["move"] * 4 + ["hold"] * 3 + ["expire"]
STALLS = ["stall-move", "stall-hold"] * 3  # killed between the ledger insert and the commit
STALLED = "stalled"  # the description of a stalled transfer and the reason of a stalled hold
INSERTED, COMMITTED = 1, 2  # what a victim's flag says when it stops to be killed
ADMIN = Actor(user_id=uuid.UUID("00000000-0000-4000-8000-00000000ad01"), role=Role.admin)
DEPOSITS = {"crash-before-commit": "11.00", "crash-after-commit": "22.00"}


def open_accounts(engine) -> tuple[list[uuid.UUID], Decimal, uuid.UUID]:
    """ACCOUNTS funded users and one unfunded depositor, all at KYC level 1; the funded users' total."""
    owners = [uuid.uuid4() for _ in range(ACCOUNTS + 1)]
    total = Decimal(0)
    with Session(engine) as s, s.begin():
        for n, owner in enumerate(owners):
            s.execute(text("INSERT INTO users (id, email, phone, password_hash, role, kyc_level)"
                           " VALUES (:id, :e, :p, 'x', 'standard', 1)"),
                      {"id": owner, "e": f"crash{n}@example.com", "p": f"+8491300{n:04d}"})
        for n, owner in enumerate(owners[:ACCOUNTS]):
            amount = Decimal(500 + 100 * n)
            book.post(s, kind="deposit", legs=[Leg(owner, "USD", "available", amount),
                                              Leg(None, "USD", "external", -amount)])
            total += amount
    return owners[:ACCOUNTS], total, owners[ACCOUNTS]


def depositor(user_id: uuid.UUID) -> Actor:
    return Actor(user_id=user_id, role=Role.standard, kyc_level=1)


def deposit_request(key: str) -> Any:
    from du_core.payments.schemas import Deposit

    return Deposit(amount=DEPOSITS[key], currency="USD", method="sandbox", idempotency_key=key)


# -- the operations the processes run (each one transaction through the runner) -------------------


def transfer(session: Session, actor: Actor, move: tuple[uuid.UUID, uuid.UUID, Decimal, str | None]) -> None:
    source, target, amount, description = move
    book.post(session, kind="transfer", description=description,
              legs=[Leg(source, "USD", "available", -amount), Leg(target, "USD", "available", amount)])


def place(session: Session, actor: Actor, spec: tuple[uuid.UUID, Decimal, timedelta | None, str]) -> uuid.UUID:
    owner, amount, expires_in, reason = spec
    expires_at = book.now() + expires_in if expires_in is not None else None
    return book.place_hold(session, owner_id=owner, asset="USD", amount=amount, reason=reason,
                           expires_at=expires_at).id


def void(session: Session, actor: Actor, hold_id: uuid.UUID) -> None:
    book.void_hold(session, hold_id)


def spend(session: Session, actor: Actor, spec: tuple[uuid.UUID, uuid.UUID, Decimal | None]) -> None:
    hold_id, target, amount = spec
    book.post_hold(session, hold_id, to=Leg(target, "USD", "available", Decimal(0)), amount=amount,
                   kind="transfer")


def stalling(op, flag):  # noqa: ANN001, ANN201
    """`op`, then flag that its writes are in and wait, uncommitted, to be killed."""

    def stalled(session: Session, actor: Actor, request: Any) -> None:
        op(session, actor, request)
        flag.value = INSERTED
        time.sleep(120)

    return stalled


# -- the processes ------------------------------------------------------------------------------


def worker(url: str, mode: str, owners: list[uuid.UUID], seed: int, deadline: float, flag, done,  # noqa: ANN001
           depositor_id: uuid.UUID | None = None) -> None:
    """One process of the load (or a victim), running `mode` until the deadline or its kill."""
    engine = create(url)
    rng = random.Random(seed)
    mine: list[tuple[uuid.UUID, Decimal]] = []  # pending holds this process placed

    def amount(high: int) -> Decimal:
        return Decimal(rng.randint(1, high * 100)).scaleb(-2)

    def one(kind: str) -> None:
        try:
            if kind == "move":
                source, target = rng.sample(owners, 2)
                run(engine, transfer, (source, target, amount(150), None))
            elif kind == "hold" and (rng.random() < 0.5 or not mine):
                expires_in = rng.choice([timedelta(seconds=-1), timedelta(seconds=2), timedelta(hours=1), None])
                size = amount(100)
                mine.append((run(engine, place, (rng.choice(owners), size, expires_in, "order")), size))
            elif kind == "hold":
                hold_id, size = mine.pop(rng.randrange(len(mine)))
                if rng.random() < 0.5:
                    run(engine, void, hold_id)
                else:
                    part = rng.choice([None, (size * Decimal(rng.random())).quantize(Decimal("0.01"))])
                    run(engine, spend, (hold_id, rng.choice(owners), part or None))
            elif kind == "expire":
                from du_core.ledger import service
                from du_core.ledger.schemas import ExpireHolds

                run(engine, service.ledger_expire_holds, ExpireHolds(limit=20), actor=ADMIN)
                time.sleep(0.05)
            done.value += 1
        except (InsufficientFunds, InvalidState):
            pass  # not enough money, or a hold someone else already resolved: normal outcomes

    if mode in ("move", "hold", "expire"):
        while time.time() < deadline:
            one(mode)
    elif mode in ("stall-move", "stall-hold"):
        for _ in range(rng.randint(0, 3)):
            one(mode.removeprefix("stall-"))
        while True:  # until an account has the money to stall with
            try:
                if mode == "stall-move":
                    source, target = rng.sample(owners, 2)
                    run(engine, stalling(transfer, flag), (source, target, amount(20), STALLED))
                else:
                    run(engine, stalling(place, flag), (rng.choice(owners), amount(20), None, STALLED))
                break
            except InsufficientFunds:
                continue
    elif mode in DEPOSITS:
        from du_core.payments import service as payments

        assert depositor_id is not None
        if mode == "crash-before-commit":
            run(engine, stalling(payments.deposit, flag), deposit_request(mode), actor=depositor(depositor_id))
        else:
            run(engine, payments.deposit, deposit_request(mode), actor=depositor(depositor_id))
            flag.value = COMMITTED  # committed; killed before it could tell anyone
            time.sleep(120)
    engine.dispose()


# -- the test -----------------------------------------------------------------------------------


def others_in_transaction(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state <> 'idle'")).scalar_one()


def test_kill_9_at_random_leaves_balanced_books_and_an_idempotent_retry_applies_once(du, db_url, engine):
    from du_core.ledger import service
    from du_core.payments import service as payments

    owners, total, depositor_id = open_accounts(engine)
    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(20261128)
    t0 = time.time()
    deadline = t0 + LOAD_SECONDS
    counters = []  # operations committed, one lock-free counter per process

    def launch(mode: str, *, until: float = deadline) -> tuple[Any, Any]:
        flag, done = ctx.RawValue("i", 0), ctx.RawValue("l", 0)
        counters.append(done)
        proc = ctx.Process(target=worker, args=(db_url, mode, owners, rng.randrange(2**32), until, flag, done,
                                                depositor_id), daemon=True)
        proc.start()
        everything.append(proc)
        return proc, flag

    everything: list[Any] = []
    load = {launch(mode)[0]: mode for mode in LOAD}  # process -> mode
    victims: dict[Any, tuple[str, Any]] = {}  # process -> (mode, flag)
    due = sorted([(1.0 + 1.5 * i, mode) for i, mode in enumerate(STALLS)]
                 + [(3.0, "crash-before-commit"), (6.0, "crash-after-commit")])
    killed_at_random, killed_at_point = 0, 0
    next_kill = t0 + rng.uniform(1.0, 2.0)
    try:
        while time.time() < deadline or due or any(p.is_alive() for p in victims):
            now = time.time()
            if now > deadline + 30:
                break
            while due and now - t0 >= due[0][0]:
                mode = due.pop(0)[1]
                proc, flag = launch(mode, until=deadline + 30)
                victims[proc] = (mode, flag)
            for proc, (_, flag) in victims.items():
                if flag.value and proc.is_alive():
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.join()
                    killed_at_point += 1
            if deadline - 3 > now >= next_kill:
                proc = rng.choice([p for p in load if p.is_alive()])
                os.kill(proc.pid, signal.SIGKILL)
                proc.join()
                killed_at_random += 1
                mode = load.pop(proc)
                load[launch(mode)[0]] = mode
                next_kill = now + rng.uniform(1.0, 2.0)
            time.sleep(0.02)
    finally:
        for proc in everything:  # whatever still runs is killed wherever it is
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGKILL)
            proc.join()
    ops = sum(c.value for c in counters)
    print(f"\ncrash: {ops} operations committed in {time.time() - t0:.1f} s by {len(everything)} processes; "
          f"{killed_at_random} killed at random, {killed_at_point} between their ledger insert and commit, "
          f"{len(load)} wherever they were at the end")
    assert [p.exitcode for p in everything if p.exitcode not in (0, -signal.SIGKILL)] == [], "a process failed"
    assert killed_at_point == len(STALLS) + len(DEPOSITS), "a victim never reached its kill point"
    assert killed_at_random >= 5 and ops > 200

    # The server rolls back what the dead left open; wait for their backends to go.
    for _ in range(300):
        if others_in_transaction(engine) == 0:
            break
        time.sleep(0.05)
    at_once = run(engine, service.ledger_verify, actor=ADMIN)
    assert (at_once.drift, at_once.unbalanced_entries, at_once.orphaned_holds) == ([], [], [])

    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM journal_entries WHERE description = :s"),
                            {"s": STALLED}).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM holds WHERE reason = :s"), {"s": STALLED}).scalar_one() == 0
        # Every hold was placed once and resolved at most once.
        holds = conn.execute(text(
            "SELECT h.status, count(e.id) FILTER (WHERE e.kind = 'hold') AS placed,"
            " count(e.id) FILTER (WHERE e.kind <> 'hold') AS resolved FROM holds h"
            " LEFT JOIN journal_entries e ON e.reference_type = 'hold' AND e.reference_id = h.id"
            " GROUP BY h.id, h.status")).all()
        assert holds and all(placed == 1 and resolved == (status != "pending") for status, placed, resolved in holds)
        kept = conn.execute(text("SELECT sum(balance) FROM ledger_accounts WHERE owner_id = ANY(:o)"),
                            {"o": owners}).scalar_one()
        assert kept == total, "money was created or lost among the users"
        # Of the two deposits, only the one killed after its commit is in.
        paid = conn.execute(text("SELECT amount FROM payments WHERE user_id = :u"),
                            {"u": depositor_id}).scalars().all()
        assert paid == [Decimal(DEPOSITS["crash-after-commit"])]

    # The deposits retried with their keys apply exactly once: the first now, the second not again.
    actor = depositor(depositor_id)
    retried = {key: run(engine, payments.deposit, deposit_request(key), actor=actor) for key in DEPOSITS}
    again = {key: run(engine, payments.deposit, deposit_request(key), actor=actor) for key in DEPOSITS}
    assert {k: v.id for k, v in retried.items()} == {k: v.id for k, v in again.items()}
    assert {v.status for v in retried.values()} == {"completed"}
    with engine.connect() as conn:
        payments_made = dict(conn.execute(text("SELECT id, amount FROM payments WHERE user_id = :u"),
                                          {"u": depositor_id}).all())
        assert payments_made == {v.id: Decimal(DEPOSITS[k]) for k, v in retried.items()}
        assert conn.execute(text(
            "SELECT count(*) FROM journal_entries WHERE reference_type = 'payment' AND reference_id IN"
            " (SELECT id FROM payments WHERE user_id = :u)"), {"u": depositor_id}).scalar_one() == 2
    with Session(engine) as s:
        assert book.balances(s, depositor_id)["USD"]["available"] == Decimal("33.00")

    # What an operator then sees: holds whose time is up released, and the books verified.
    du.user_as("admin")
    released = du("admin", "ledger", "expire-holds", "--limit", "10000", "--json")
    assert released.exit_code == 0, released.stderr
    report = du("admin", "ledger", "verify", "--json")
    assert report.exit_code == 0, report.stderr
    found = report.json()
    assert (found["ok"], found["drift"], found["unbalanced_entries"], found["orphaned_holds"]) == (True, [], [], [])
