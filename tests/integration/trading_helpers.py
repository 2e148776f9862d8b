"""Traders for exchange tests: users with a role, a KYC level and money, acting through the runner."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.actor import Actor, Role
from du_core.db.runner import run
from du_core.ledger import book
from du_core.ledger.book import Leg
from du_core.operations import REGISTRY, load_all
from du_core.validation import parse
import du_core.trading.admin  # noqa: F401
import du_core.trading.info  # noqa: F401
import du_core.trading.service  # noqa: F401


def trader(engine: Any, *, kyc: int = 1, role: Role = Role.standard, **funds: str) -> Actor:
    """A user who may trade, with `funds` (asset=amount) deposited."""
    uid = uuid.uuid4()
    with Session(engine) as s, s.begin():
        s.execute(text("INSERT INTO users (id, email, phone, password_hash, role, kyc_level)"
                       " VALUES (:id, :e, :p, 'x', :r, :k)"),
                  {"id": uid, "e": f"{uid.hex[:10]}@example.com", "p": f"+8491{uid.int % 10**7:07d}",
                   "r": role.value, "k": kyc})
        for asset, amount in funds.items():
            book.post(s, kind="deposit", legs=[Leg(uid, asset, "available", Decimal(amount)),
                                               Leg(None, asset, "external", -Decimal(amount))])
    return Actor(user_id=uid, role=role, kyc_level=kyc)


def call(engine: Any, actor: Actor | None, name: str, request_type: Any = None, **fields: Any) -> Any:
    """Run the operation `name` as `actor` with a request built from `fields`."""
    if name not in REGISTRY:
        load_all()
    op = REGISTRY[name]
    request = parse(request_type, **fields) if request_type is not None else None
    return run(engine, op, request, actor=actor or Actor.anonymous())


def balances(engine: Any, actor: Actor) -> dict[str, dict[str, Decimal]]:
    with Session(engine) as s:
        return book.balances(s, actor.user_id)


def fees_total(engine: Any, asset: str) -> Decimal:
    with Session(engine) as s:
        return s.execute(text("SELECT coalesce(sum(p.amount), 0) FROM postings p JOIN ledger_accounts a"
                              " ON a.id = p.account_id WHERE a.purpose = 'fees' AND a.asset = :a"),
                         {"a": asset}).scalar_one()


def verify(engine: Any) -> book.Verification:
    with Session(engine) as s:
        return book.verify(s)
