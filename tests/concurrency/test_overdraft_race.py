"""The overdraft race: OS processes withdrawing from one balance at once through the real service
layer never overdraw it, while a naive read-then-write version of the same work does.

Each worker is a separate process (the "spawn" start method: no state inherited from pytest)
with its own engine, released together by a barrier. The naive control proves the setup is able
to show a race at all: if it stopped overdrawing, a green run of the real test would mean nothing.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

D = Decimal
WORKERS = 8
REQUESTS = 25
AMOUNT = D("7.00")
START = D("100.00")
TIMEOUT = 120


def _shares(total: int, workers: int) -> list[int]:
    """`total` requests spread over `workers` as evenly as possible."""
    return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]


def _withdraw_worker(url: str, user_id: str, count: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    """Send `count` withdrawals through the service layer; report each outcome's code."""
    from du_core.actor import Actor, Role
    from du_core.db.engine import create
    from du_core.db.runner import run
    from du_core.errors import DomainError
    from du_core.payments import service
    from du_core.payments.schemas import Withdraw
    from du_core.validation import parse

    outcomes: list[str] = []
    try:
        engine = create(url)
        actor = Actor(user_id=uuid.UUID(user_id), role=Role.standard, kyc_level=2)
        request = parse(Withdraw, amount=f"{AMOUNT}", currency="USD", method="sandbox", destination="VN12 3456 7890")
        with engine.connect():
            pass  # connect before the start line, so that the race is the withdrawals' only
        barrier.wait(timeout=TIMEOUT)
        for _ in range(count):
            try:
                run(engine, service.withdraw, request, actor=actor)
                outcomes.append("ok")
            except DomainError as err:
                outcomes.append(err.code)
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - the parent reports whatever went wrong here
        outcomes.append(f"crash: {exc!r}")
    results.put(outcomes)


def _naive_worker(url: str, count: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    """The same withdrawals done wrong: read the balance, think, write balance - amount."""
    from du_core.db.engine import create

    outcomes: list[str] = []
    try:
        engine = create(url)
        with engine.connect():
            pass
        barrier.wait(timeout=TIMEOUT)
        for _ in range(count):
            with engine.begin() as conn:
                balance = conn.execute(text("SELECT balance FROM naive")).scalar_one()
                time.sleep(0.02)  # the time a real service spends between its read and its write
                if balance >= AMOUNT:
                    conn.execute(text("UPDATE naive SET balance = :b"), {"b": balance - AMOUNT})
                    outcomes.append("ok")
                else:
                    outcomes.append("insufficient_funds")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        outcomes.append(f"crash: {exc!r}")
    results.put(outcomes)


def _race(target, args_of) -> list[str]:  # type: ignore[no-untyped-def]
    """Run WORKERS spawned processes of `target`, released together; return every outcome."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    processes = [ctx.Process(target=target, args=(*args_of(share), barrier, results), daemon=True)
                 for share in _shares(REQUESTS, WORKERS)]
    for p in processes:
        p.start()
    outcomes: list[str] = []
    try:
        for _ in processes:
            outcomes.extend(results.get(timeout=TIMEOUT))
    except queue.Empty:
        pytest.fail(f"a worker did not report within {TIMEOUT} s")
    finally:
        for p in processes:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    crashes = [o for o in outcomes if o.startswith("crash")]
    assert not crashes, crashes
    return outcomes


@pytest.fixture
def funded_user(engine) -> uuid.UUID:
    """A KYC level 2 user with exactly 100.00 USD available, deposited through the sandbox gateway."""
    from du_core.actor import Actor, Role
    from du_core.auth import service as auth_service
    from du_core.auth.schemas import Register
    from du_core.db.runner import run
    from du_core.payments import service
    from du_core.payments.schemas import Deposit
    from du_core.validation import parse

    user = run(engine, auth_service.register, parse(
        Register, email="racer@example.com", phone="+84912000777", full_name="Đỗ Thành Long",
        password="a long Pass phrase 42", date_of_birth="1990-01-01", nationality="VN"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'standard', kyc_level = 2 WHERE id = :i"), {"i": user.id})
    actor = Actor(user_id=user.id, role=Role.standard, kyc_level=2)
    run(engine, service.deposit, parse(Deposit, amount=f"{START}", currency="USD", method="sandbox"), actor=actor)
    return user.id


@pytest.mark.concurrency
def test_eight_processes_withdrawing_at_once_never_overdraw(db_url, engine, funded_user):
    from du_core.ledger import book

    outcomes = _race(_withdraw_worker, lambda share: (db_url, str(funded_user), share))

    assert len(outcomes) == REQUESTS
    assert outcomes.count("ok") == 14, outcomes
    assert outcomes.count("insufficient_funds") == 11, outcomes
    with Session(engine) as s:
        assert book.balances(s, funded_user)["USD"] == {"available": D("2.00"), "held": D(0)}
        verification = book.verify(s)
        assert verification.ok, verification
    with engine.connect() as conn:
        done = conn.execute(text("SELECT count(*) FROM payments WHERE kind = 'withdrawal' AND status = 'completed'"))
        assert done.scalar_one() == 14
        assert conn.execute(text("SELECT count(*) FROM holds WHERE status <> 'posted'")).scalar_one() == 0


@pytest.mark.concurrency
def test_the_naive_read_then_write_control_does_overdraw(db_url, engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE naive (balance numeric)"))
        conn.execute(text("INSERT INTO naive VALUES (:b)"), {"b": START})

    outcomes = _race(_naive_worker, lambda share: (db_url, share))

    with engine.connect() as conn:
        balance = conn.execute(text("SELECT balance FROM naive")).scalar_one()
    paid_out = outcomes.count("ok") * AMOUNT
    assert outcomes.count("ok") > 14 or balance < 0, (outcomes, balance)
    assert START - paid_out != balance  # money left the account that the balance never recorded
