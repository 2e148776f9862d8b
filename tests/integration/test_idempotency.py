"""Idempotency keys: a repeat replays the first result, concurrent repeats post once."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core import idempotency
from du_core.errors import Duplicate
from du_core.ledger import book
from du_core.ledger.book import Leg


class Move(BaseModel):
    amount: str
    idempotency_key: str | None = None


class Moved(BaseModel):
    entry_id: uuid.UUID


@pytest.fixture
def owner(engine):
    uid = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, phone, password_hash) VALUES (:id, 'i@example.com',"
                          " '+84912345678', 'x')"), {"id": uid})
    return uid


def deposit_once(engine, owner, request: Move) -> Moved:
    with Session(engine) as s, s.begin():
        def work() -> Moved:
            amount = Decimal(request.amount)
            return Moved(entry_id=book.post(s, kind="deposit", legs=[
                Leg(owner, "USD", "available", amount), Leg(None, "USD", "external", -amount)]))

        return idempotency.once(s, user_id=owner, key=request.idempotency_key, operation="test.deposit",
                                request=request, result_type=Moved, work=work)


def entries(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM journal_entries")).scalar()


def test_a_repeat_returns_the_first_result_and_moves_nothing(engine, owner):
    first = deposit_once(engine, owner, Move(amount="5", idempotency_key="k1"))
    again = deposit_once(engine, owner, Move(amount="5", idempotency_key="k1"))
    assert first == again and entries(engine) == 1


def test_the_same_key_with_other_parameters_is_refused(engine, owner):
    deposit_once(engine, owner, Move(amount="5", idempotency_key="k1"))
    with pytest.raises(Duplicate):
        deposit_once(engine, owner, Move(amount="6", idempotency_key="k1"))
    assert entries(engine) == 1


def test_without_a_key_every_call_moves_money(engine, owner):
    deposit_once(engine, owner, Move(amount="5"))
    deposit_once(engine, owner, Move(amount="5"))
    assert entries(engine) == 2


def test_concurrent_repeats_create_exactly_one_entry(engine, owner):
    results: list[Moved] = []
    barrier = threading.Barrier(12)

    def worker() -> None:
        barrier.wait()
        results.append(deposit_once(engine, owner, Move(amount="5", idempotency_key="race")))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12 and len({r.entry_id for r in results}) == 1
    assert entries(engine) == 1
    with Session(engine) as s:
        assert book.balances(s, owner)["USD"]["available"] == Decimal(5)
