"""Deposits and withdrawals: payments through a gateway, and the one state machine they follow.

A payment is created `pending` and handed to its gateway (du_core.payments.gateways), whose
decision the service applies: `sandbox` settles at once (pending -> processing -> completed in
the same transaction), `manual` waits for an admin's `payments process`. Its status changes only
through `transition()`, which knows the allowed (from, to) pairs.

The books: a completed deposit posts +amount to the user's available balance and -amount to
the platform's external account. A withdrawal holds its amount from the moment it is requested
(so the money cannot be spent twice while the gateway works); completion posts the hold to the
external account, failure or cancellation voids it. Deposits and withdrawals take an
idempotency key: a repeat returns the first result and moves nothing.

Payments are written with Core statements (a deposit is the ledger's busiest path); the
payment's state travels as a frozen `Record` and is never an ORM object.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, text, update

from du_core import idempotency, money
from du_core.actor import Actor
from du_core.admin import settings
from du_core.audit.trail import record
from du_core.db import fast
from du_core.errors import InvalidState, KycRequired, NotFound, RiskLimit
from du_core.financial.models import Payment
from du_core.fx.rates import value_in
from du_core.ledger import book
from du_core.ledger.book import Leg
from du_core.ledger.models import Asset
from du_core.operations import operation
from du_core.payments import gateways
from du_core.payments.gateways import Decision, Gateway, Submission
from du_core.payments.schemas import (
    Deposit, PaymentId, PaymentPage, PaymentQuery, PaymentView, ProcessPayment, Withdraw,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

PAYMENTS = Payment.__table__

# The payment state machine: the only (from, to) pairs transition() makes. Money settles only
# from processing (the gateway took the payment on); completed, failed and cancelled are final.
TRANSITIONS = frozenset({
    ("pending", "processing"), ("pending", "failed"), ("pending", "cancelled"),
    ("processing", "completed"), ("processing", "failed"), ("processing", "cancelled"),
})
OPEN = ("pending", "processing")

DEPOSIT_KYC_LEVEL = 1
WITHDRAW_KYC_LEVEL = 2
LIMIT_CURRENCY = "USD"  # the daily withdrawal limits are settings in USD
# Namespace of pg_advisory_xact_lock(int, int) for "this user's withdrawals": the daily limit is
# a sum over the user's payments, so two withdrawals must not both check it before either writes.
WITHDRAWALS_LOCK = 0x57445257


@dataclass(frozen=True)
class Record:
    """One row of `payments`, as the service reads and writes it."""

    id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    asset: str
    amount: Decimal
    gateway: str
    status: str
    destination: str | None
    hold_id: uuid.UUID | None
    entry_id: uuid.UUID | None
    gateway_reference: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


def transition(session: Session, payment: Record, *, to: str, **changes: Any) -> Record:
    """Move `payment` to status `to` (with other column `changes`) and return the new record.

    Raises:
        InvalidState: (current status, to) is not an allowed pair, or the row changed meanwhile.
    """
    values = _moved(payment, to, changes)
    changed = session.execute(
        update(PAYMENTS).where(PAYMENTS.c.id == payment.id, PAYMENTS.c.status == payment.status).values(values)
    ).rowcount
    if changed != 1:
        raise InvalidState("this payment changed meanwhile; look at it again", details={"payment_id": str(payment.id)})
    return replace(payment, **values)


def _moved(payment: Record, to: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The column values of `payment` moved to `to`, if the transition table allows it.

    Raises:
        InvalidState: (current status, to) is not an allowed pair.
    """
    if (payment.status, to) not in TRANSITIONS:
        raise InvalidState(f"a {payment.status} {payment.kind} cannot become {to}",
                           details={"payment_id": str(payment.id), "status": payment.status, "to": to})
    at = book.now()
    values = {**changes, "status": to, "updated_at": at}
    if to == "completed":
        values["completed_at"] = at
    return values


# -- the operations ------------------------------------------------------------------------------


@operation("financial.deposit")
def deposit(session: Session, actor: Actor, req: Deposit) -> PaymentView:
    """Deposit money through a gateway: sandbox settles at once, manual waits for an admin.

    Raises:
        KycRequired: the caller's KYC level is below 1.
        InvalidInput: unknown currency, or an amount that is not a plain positive decimal within
            the currency's decimal places.
        Duplicate: the idempotency key was used for another request.
    """
    _require_kyc(actor, DEPOSIT_KYC_LEVEL, "deposit")
    asset, amount, gateway, canonical = _parsed(session, req)

    def work() -> PaymentView:
        payment = _open(session, _new(actor, kind="deposit", asset=asset.code, amount=amount, gateway=gateway.name),
                        actor=actor, gateway=gateway)
        return _opened(session, actor, "financial.deposit", payment, asset.precision)

    return _once(session, actor, "financial.deposit", canonical, work)


@operation("financial.withdraw")
def withdraw(session: Session, actor: Actor, req: Withdraw) -> PaymentView:
    """Withdraw money through a gateway; the amount is held from now until the payment ends.

    Raises:
        KycRequired: the caller's KYC level is below 2.
        InvalidInput: unknown currency or a bad amount (see deposit).
        RiskLimit: today's withdrawals would exceed the daily limit of the caller's KYC level.
        InvalidState: no exchange rate values the currency in USD, so the limit cannot be checked.
        InsufficientFunds: less than the amount is available.
        Duplicate: the idempotency key was used for another request.
    """
    _require_kyc(actor, WITHDRAW_KYC_LEVEL, "withdraw")
    asset, amount, gateway, canonical = _parsed(session, req)

    def work() -> PaymentView:
        assert actor.user_id is not None
        session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:user))"),
                        {"space": WITHDRAWALS_LOCK, "user": str(actor.user_id)})
        _check_daily_limit(session, actor, asset=asset.code, amount=amount)
        payment_id = uuid.uuid4()
        hold = book.place_hold(session, owner_id=actor.user_id, asset=asset.code, amount=amount, reason="withdrawal",
                               reference_id=payment_id, created_by=actor.user_id)
        payment = _open(session, _new(actor, kind="withdrawal", asset=asset.code, amount=amount,
                                      gateway=gateway.name, payment_id=payment_id, hold_id=hold.id,
                                      destination=req.destination), actor=actor, gateway=gateway)
        return _opened(session, actor, "financial.withdraw", payment, asset.precision)

    return _once(session, actor, "financial.withdraw", canonical, work)


@operation("financial.payments_status")
def payments_status(session: Session, actor: Actor, req: PaymentId) -> PaymentView:
    """One payment of the caller's (any payment for an admin).

    Raises:
        NotFound: no such payment, or another user's (so that ids reveal nothing).
    """
    payment = _find(session, actor, req.payment_id)
    return _view(payment, _places(session, payment.asset))


@operation("financial.payments_process")
def payments_process(session: Session, actor: Actor, req: ProcessPayment) -> PaymentView:
    """Decide an open payment as its gateway would: start it, complete it, or fail it.

    Completing settles it in the books; failing releases a withdrawal's hold.

    Raises:
        NotFound: no such payment.
        InvalidState: the payment is no longer open (or already processing, for start).
    """
    payment = _find(session, actor, req.payment_id, lock=True)
    before = payment.status
    if before not in OPEN:
        raise InvalidState(f"this payment is already {before}", details={"payment_id": str(payment.id)})
    reference = {"gateway_reference": req.gateway_reference} if req.gateway_reference else {}
    if req.outcome == "start":
        payment = transition(session, payment, to="processing", **reference)
    elif req.outcome == "complete":
        payment = _settle(session, payment, actor=actor, **reference)
    else:
        payment = _release(session, payment, actor=actor, to="failed", reason=req.reason or "failed by an operator",
                           **reference)
    precision = _places(session, payment.asset)
    record(session, actor, "financial.payments_process", target_type="payment", target_id=payment.id,
           old={"status": before},
           new={"status": payment.status, "amount": str(money.exact(payment.amount, precision)),
                "currency": payment.asset, "gateway_reference": payment.gateway_reference,
                "failure_reason": payment.failure_reason})
    return _view(payment, precision)


@operation("financial.payments_cancel")
def payments_cancel(session: Session, actor: Actor, req: PaymentId) -> PaymentView:
    """Cancel a payment: the owner while it is pending, an admin while it is pending or processing.

    A withdrawal's hold returns to the available balance.

    Raises:
        NotFound: no such payment, or another user's.
        InvalidState: the payment is past the point where the caller may cancel it.
    """
    payment = _find(session, actor, req.payment_id, lock=True)
    before = payment.status
    if not actor.is_admin and before != "pending":
        raise InvalidState(f"only a pending payment can be cancelled; this one is {before}",
                           details={"payment_id": str(payment.id), "status": before})
    by_owner = actor.user_id == payment.user_id
    reason = "cancelled by the owner" if by_owner else "cancelled by an admin"
    payment = _release(session, payment, actor=actor, to="cancelled", reason=reason)
    precision = _places(session, payment.asset)
    record(session, actor, "financial.payments_cancel", target_type="payment", target_id=payment.id,
           old={"status": before},
           new={"status": payment.status, "amount": str(money.exact(payment.amount, precision)),
                "currency": payment.asset})
    return _view(payment, precision)


@operation("financial.payments_history")
def payments_history(session: Session, actor: Actor, req: PaymentQuery) -> PaymentPage:
    """The caller's payments, newest first, filtered by status, kind and currency."""
    stmt = select(PAYMENTS).where(PAYMENTS.c.user_id == actor.user_id)
    if req.status is not None:
        stmt = stmt.where(PAYMENTS.c.status == req.status)
    if req.kind is not None:
        stmt = stmt.where(PAYMENTS.c.kind == req.kind)
    if req.currency is not None:
        stmt = stmt.where(PAYMENTS.c.asset == req.currency)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(PAYMENTS.c.created_at.desc(), PAYMENTS.c.id.desc())
                           .limit(req.limit).offset(req.offset)).mappings()
    items = [_view(p, _places(session, p.asset)) for p in (Record(**row) for row in rows)]
    return PaymentPage(items=items, page=req.page, limit=req.limit, total=total)


# -- the steps -----------------------------------------------------------------------------------


def _parsed(session: Session, req: Deposit | Withdraw) -> tuple[book.AssetInfo, Decimal, Gateway, Any]:
    """The request's asset, exact amount and gateway, and the request in canonical form (for its key)."""
    asset = book.asset(session, req.currency)
    amount = money.parse_amount(req.amount, asset.precision)
    canonical = req.model_copy(update={"amount": str(money.exact(amount, asset.precision)), "currency": asset.code})
    return asset, amount, gateways.get(req.method), canonical


def _opened(session: Session, actor: Actor, action: str, payment: Record, precision: int) -> PaymentView:
    """The view of a new payment, audited."""
    view = _view(payment, precision)
    record(session, actor, action, target_type="payment", target_id=payment.id, new=_audited(view))
    return view


def _require_kyc(actor: Actor, level: int, what: str) -> None:
    if actor.kyc_level < level:
        raise KycRequired(f"to {what} you need KYC level {level} (yours is {actor.kyc_level}); "
                          "an admin raises it after KYC verification", details={"required": level, "current": actor.kyc_level})


def _once(session: Session, actor: Actor, name: str, canonical: Deposit | Withdraw,
          work: Callable[[], PaymentView]) -> PaymentView:
    """Run `work` under the request's idempotency key; a replay is audited as one, moving nothing."""
    assert actor.user_id is not None
    ran: list[bool] = []

    def first_time() -> PaymentView:
        ran.append(True)
        return work()

    view = idempotency.once(session, user_id=actor.user_id, key=canonical.idempotency_key, operation=name,
                            request=canonical, result_type=PaymentView, work=first_time)
    if not ran:
        record(session, actor, name, target_type="payment", target_id=view.id,
               details={"replayed": True, "idempotency_key": canonical.idempotency_key})
    return view


def _check_daily_limit(session: Session, actor: Actor, *, asset: str, amount: Decimal) -> None:
    """Refuse a withdrawal that takes today's (UTC) withdrawals past the caller's limit in USD.

    Withdrawals that failed or were cancelled do not count. Run under the user's withdrawals lock.
    """
    level = 3 if actor.kyc_level >= 3 else 2
    limit: Decimal = settings.get(session, f"withdraw_daily_limit_level{level}")
    since = book.now().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(PAYMENTS.c.asset, func.sum(PAYMENTS.c.amount))
        .where(PAYMENTS.c.user_id == actor.user_id, PAYMENTS.c.kind == "withdrawal",
               PAYMENTS.c.status.not_in(("failed", "cancelled")), PAYMENTS.c.created_at >= since)
        .group_by(PAYMENTS.c.asset)
    ).all()
    used = Decimal(0)
    for code, total in [*rows, (asset, amount)]:
        used += _in_usd(session, total, asset=code)
    if used > limit:
        earlier = used - _in_usd(session, amount, asset=asset)
        raise RiskLimit(
            f"this withdrawal would take today's withdrawals to {_usd(used)} USD, over the daily limit of "
            f"{_usd(limit)} USD at KYC level {level} ({_usd(earlier)} USD already used today, UTC)",
            details={"limit": _usd(limit), "used": _usd(earlier), "requested": _usd(used - earlier),
                     "currency": LIMIT_CURRENCY, "kyc_level": level},
        )


def _in_usd(session: Session, amount: Decimal, *, asset: str) -> Decimal:
    if asset == LIMIT_CURRENCY:
        return amount
    valued = value_in(session, amount, asset, LIMIT_CURRENCY)
    if valued is None:
        raise InvalidState(
            f"no exchange rate values {asset} in {LIMIT_CURRENCY}, so the daily withdrawal limit cannot be "
            "checked; try again once an admin has set one", details={"from": asset, "to": LIMIT_CURRENCY})
    return valued


def _usd(value: Decimal) -> str:
    return str(money.exact(value, 2))


_INSERT = "INSERT INTO payments ({}) VALUES ({})".format(
    ", ".join(f.name for f in fields(Record)), ", ".join(f"%({f.name})s" for f in fields(Record)))


def _new(actor: Actor, *, kind: str, asset: str, amount: Decimal, gateway: str,
         payment_id: uuid.UUID | None = None, hold_id: uuid.UUID | None = None,
         destination: str | None = None) -> Record:
    """A payment as it is born: pending (not written yet)."""
    assert actor.user_id is not None
    at = book.now()
    return Record(id=payment_id or uuid.uuid4(), user_id=actor.user_id, kind=kind, asset=asset, amount=amount,
                  gateway=gateway, status="pending", destination=destination, hold_id=hold_id, entry_id=None,
                  gateway_reference=None, failure_reason=None, created_at=at, updated_at=at, completed_at=None)


def _open(session: Session, payment: Record, *, actor: Actor, gateway: Gateway) -> Record:
    """Hand a new payment to its gateway, apply the decision, and write the payment once.

    A gateway that settles or refuses at once moves the payment through the transition table in
    memory (pending -> processing -> completed, or pending -> failed): no one can see the states
    in between inside one transaction, so only the final row is written.
    """
    decision: Decision = gateway.submit(Submission(payment_id=payment.id, kind=payment.kind, asset=payment.asset,
                                                   amount=payment.amount, destination=payment.destination))
    reference = {"gateway_reference": decision.reference} if decision.reference else {}
    if decision.outcome == "completed":
        payment = replace(payment, **_moved(payment, "processing", reference))
        payment = replace(payment, **_moved(payment, "completed", {"entry_id": _book(session, payment, actor)}))
    elif decision.outcome == "failed":
        reason = (decision.reason or f"refused by {gateway.name}")[:200]
        payment = replace(payment, **_moved(payment, "failed", {**reference, "failure_reason": reason}))
        if payment.hold_id is not None:
            book.void_hold(session, payment.hold_id, created_by=actor.user_id)
    else:
        payment = replace(payment, **reference)
    fast.execute(session, _INSERT, {f.name: getattr(payment, f.name) for f in fields(Record)})  # asdict deep-copies
    return payment


def _book(session: Session, payment: Record, actor: Actor) -> uuid.UUID:
    """Write a completed payment to the books: a deposit's entry, or a withdrawal's hold spent."""
    if payment.kind == "deposit":
        legs = [Leg(payment.user_id, payment.asset, "available", payment.amount),
                Leg(None, payment.asset, "external", -payment.amount)]
        return book.post(session, kind="deposit", legs=legs, created_by=actor.user_id, reference_type="payment",
                         reference_id=payment.id)
    assert payment.hold_id is not None
    return book.post_hold(session, payment.hold_id, to=Leg(None, payment.asset, "external", Decimal(0)),
                          kind="withdrawal", created_by=actor.user_id)


def _settle(session: Session, payment: Record, *, actor: Actor, **changes: Any) -> Record:
    """Complete an open payment (through processing) and write it to the books."""
    if payment.status == "pending":
        payment = transition(session, payment, to="processing", **changes)
        changes = {}
    return transition(session, payment, to="completed", entry_id=_book(session, payment, actor), **changes)


def _release(session: Session, payment: Record, *, actor: Actor, to: str, reason: str, **changes: Any) -> Record:
    """End an open payment as failed or cancelled; a withdrawal's hold returns to the available balance."""
    payment = transition(session, payment, to=to, failure_reason=reason[:200], **changes)
    if payment.hold_id is not None:
        book.void_hold(session, payment.hold_id, created_by=actor.user_id)
    return payment


def _find(session: Session, actor: Actor, payment_id: uuid.UUID, *, lock: bool = False) -> Record:
    """The payment with this id, if the caller may see it (locked for the transaction with `lock`).

    Raises:
        NotFound: no such payment, or one of another user's to a non-admin.
    """
    stmt = select(PAYMENTS).where(PAYMENTS.c.id == payment_id)
    if not actor.is_admin:
        stmt = stmt.where(PAYMENTS.c.user_id == actor.user_id)
    row = session.execute(stmt.with_for_update() if lock else stmt).mappings().first()
    if row is None:
        raise NotFound("no such payment", details={"payment_id": str(payment_id)})
    return Record(**row)


def _places(session: Session, code: str) -> int:
    """The decimal places of `code`, active or not (a payment outlives its asset's listing)."""
    cache: dict[str, int] = session.info.setdefault("asset_places", {})
    if code not in cache:
        cache[code] = session.scalar(select(Asset.precision).where(Asset.code == code))
    return cache[code]


def _view(payment: Record, precision: int) -> PaymentView:
    return PaymentView(
        id=payment.id, user_id=payment.user_id, kind=payment.kind, currency=payment.asset,
        amount=money.exact(payment.amount, precision), method=payment.gateway, status=payment.status,
        destination=payment.destination, gateway_reference=payment.gateway_reference,
        failure_reason=payment.failure_reason, created_at=payment.created_at, updated_at=payment.updated_at,
        completed_at=payment.completed_at,
    )


def _audited(view: PaymentView) -> dict[str, Any]:
    """What the audit trail keeps of a new payment: money as exact strings."""
    return {"kind": view.kind, "amount": str(view.amount), "currency": view.currency, "method": view.method,
            "status": view.status, "destination": view.destination, "gateway_reference": view.gateway_reference}
