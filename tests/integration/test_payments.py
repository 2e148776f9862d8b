"""Payments on a real database: deposits and withdrawals through the gateways, their state machine,
holds, KYC gates, daily limits, idempotency, and the books balanced after every scenario."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from du_core.actor import Actor, Role
from du_core.admin import settings
from du_core.auth import service as auth_service
from du_core.auth.schemas import Register
from du_core.db.runner import run
from du_core.errors import (
    Duplicate, InsufficientFunds, InvalidInput, InvalidState, KycRequired, NotFound, PermissionDenied, RiskLimit,
)
from du_core.ledger import book
from du_core.payments import service
from du_core.payments.schemas import Deposit, PaymentId, PaymentQuery, ProcessPayment, Withdraw
from du_core.validation import parse
from tests.conftest import at_once

D = Decimal
PASSWORD = "a long Pass phrase 42"
TABLES = ("payments", "journal_entries", "postings", "holds", "idempotency_keys", "audit_trails")


def new_user(engine, n: int, *, role: Role = Role.standard, kyc: int = 2) -> Actor:
    """Register user n with `role` and KYC level `kyc`, and return them as an actor."""
    user = run(engine, auth_service.register, parse(
        Register, email=f"payer{n}@example.com", phone=f"+849120{n:05d}", full_name="Phạm Minh Châu",
        password=PASSWORD, date_of_birth="1985-03-04", nationality="VN"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET role = :r, kyc_level = :k WHERE id = :i"),
                     {"r": role.value, "k": kyc, "i": user.id})
    return Actor(user_id=user.id, role=role, kyc_level=kyc)


@pytest.fixture
def alice(engine) -> Actor:
    return new_user(engine, 1)


@pytest.fixture
def bob(engine) -> Actor:
    return new_user(engine, 2)


@pytest.fixture
def admin(engine) -> Actor:
    return new_user(engine, 9, role=Role.admin, kyc=0)


@pytest.fixture(autouse=True)
def books_balance_afterwards(engine):
    """Every scenario leaves the books verifiable: no drift, no unbalanced entry, no orphaned hold."""
    yield
    with Session(engine) as s:
        result = book.verify(s)
        assert result.ok, result


def deposit(engine, actor: Actor, amount: str = "100.00", currency: str = "USD", method: str = "sandbox",
            key: str | None = None):
    return run(engine, service.deposit, parse(Deposit, amount=amount, currency=currency, method=method,
                                              idempotency_key=key), actor=actor)


def withdraw(engine, actor: Actor, amount: str = "40.00", currency: str = "USD", method: str = "manual",
             key: str | None = None):
    return run(engine, service.withdraw, parse(Withdraw, amount=amount, currency=currency, method=method,
                                               destination="VN12 3456 7890", idempotency_key=key), actor=actor)


def process(engine, admin: Actor, payment_id, outcome: str = "complete", **kw):
    return run(engine, service.payments_process, parse(ProcessPayment, payment_id=payment_id, outcome=outcome, **kw),
               actor=admin)


def cancel(engine, actor: Actor, payment_id):
    return run(engine, service.payments_cancel, parse(PaymentId, payment_id=payment_id), actor=actor)


def status(engine, actor: Actor, payment_id):
    return run(engine, service.payments_status, parse(PaymentId, payment_id=payment_id), actor=actor)


def balance(engine, actor: Actor, asset: str = "USD") -> dict[str, Decimal]:
    with Session(engine) as s:
        return book.balances(s, actor.user_id).get(asset, {"available": D(0), "held": D(0)})


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def audits(engine, action: str) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT target_id, new_values, old_values, details FROM audit_trails"
                                 " WHERE action = :a ORDER BY occurred_at"), {"a": action}).all()


def set_setting(engine, key: str, value) -> None:
    with Session(engine) as s, s.begin():
        settings.store(s, key, value, by=None)


def set_rate(engine, base: str, quote: str, rate: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO fx_rates (id, base, quote, rate, source, as_of)"
                          " VALUES (:i, :b, :q, :r, 'admin', now())"),
                     {"i": uuid.uuid4(), "b": base, "q": quote, "r": D(rate)})


# deposits


def test_a_sandbox_deposit_completes_at_once_and_credits_the_exact_amount(engine, alice):
    view = deposit(engine, alice, "100.5")
    assert (view.status, view.amount, str(view.amount), view.method) == ("completed", D("100.50"), "100.50", "sandbox")
    assert view.completed_at is not None and view.gateway_reference.startswith("sandbox-")
    assert balance(engine, alice) == {"available": D("100.50"), "held": D(0)}
    with engine.connect() as conn:
        entry = conn.execute(text("SELECT e.kind, e.reference_type, e.reference_id FROM payments p"
                                  " JOIN journal_entries e ON e.id = p.entry_id WHERE p.id = :i"), {"i": view.id}).one()
    assert tuple(entry) == ("deposit", "payment", view.id)


def test_a_deposit_is_audited_once_with_its_amount_as_a_string(engine, alice):
    view = deposit(engine, alice, "7")
    [(target, new, _, _)] = audits(engine, "financial.deposit")
    assert target == str(view.id)
    assert (new["amount"], new["currency"], new["status"]) == ("7.00", "USD", "completed")


def test_amounts_keep_exactly_the_assets_decimal_places(engine, alice):
    assert str(deposit(engine, alice, "1500", "jpy").amount) == "1500"
    assert str(deposit(engine, alice, "0.5", "BTC").amount) == "0.50000000"
    assert balance(engine, alice, "BTC")["available"] == D("0.5")


def test_a_deposit_needs_kyc_level_1_and_writes_nothing_without_it(engine):
    newcomer = new_user(engine, 3, kyc=0)
    before = counts(engine)
    with pytest.raises(KycRequired):
        deposit(engine, newcomer)
    assert counts(engine) == before


@pytest.mark.parametrize("amount,currency", [("1.001", "USD"), ("1.5", "JPY"), ("NaN", "USD"), (" 5", "USD"),
                                             ("5", "XXX"), ("0", "USD")])
def test_a_bad_amount_or_currency_is_invalid_input_and_writes_nothing(engine, alice, amount, currency):
    before = counts(engine)
    with pytest.raises(InvalidInput):
        deposit(engine, alice, amount, currency, key="k1")
    assert counts(engine) == before


def test_a_manual_deposit_waits_for_an_admin_then_credits(engine, alice, admin):
    view = deposit(engine, alice, "250.00", method="manual")
    assert (view.status, view.completed_at) == ("pending", None)
    assert balance(engine, alice)["available"] == 0
    done = process(engine, admin, view.id, gateway_reference="BANK-42")
    assert (done.status, done.gateway_reference) == ("completed", "BANK-42")
    assert balance(engine, alice)["available"] == D("250.00")
    [(_, new, old, _)] = audits(engine, "financial.payments_process")
    assert (old["status"], new["status"], new["amount"]) == ("pending", "completed", "250.00")
    with pytest.raises(InvalidState):
        process(engine, admin, view.id)
    assert balance(engine, alice)["available"] == D("250.00")


def test_a_failed_manual_deposit_credits_nothing_and_keeps_the_reason(engine, alice, admin):
    view = deposit(engine, alice, "80", method="manual")
    failed = process(engine, admin, view.id, "fail", reason="bank returned the transfer")
    assert (failed.status, failed.failure_reason) == ("failed", "bank returned the transfer")
    assert balance(engine, alice)["available"] == 0
    with pytest.raises(InvalidState):
        process(engine, admin, view.id)


def test_only_admins_process_payments(engine, alice):
    view = deposit(engine, alice, "80", method="manual")
    with pytest.raises(PermissionDenied):
        process(engine, alice, view.id)


# withdrawals


def test_a_withdrawal_holds_its_amount_from_the_request_until_it_completes(engine, alice, admin):
    deposit(engine, alice, "100.00")
    view = withdraw(engine, alice, "40.00")
    assert (view.status, view.destination) == ("pending", "VN12 3456 7890")
    assert balance(engine, alice) == {"available": D("60.00"), "held": D("40.00")}
    done = process(engine, admin, view.id)
    assert done.status == "completed"
    assert balance(engine, alice) == {"available": D("60.00"), "held": D(0)}
    with engine.connect() as conn:
        hold = conn.execute(text("SELECT h.status, h.reason, h.reference_id FROM payments p JOIN holds h"
                                 " ON h.id = p.hold_id WHERE p.id = :i"), {"i": view.id}).one()
        external = conn.execute(text("SELECT sum(p.amount) FROM postings p JOIN ledger_accounts a"
                                     " ON a.id = p.account_id WHERE a.purpose = 'external'")).scalar_one()
    assert tuple(hold) == ("posted", "withdrawal", view.id)
    assert external == D("-60.00")  # 100 came in, 40 went out


def test_a_sandbox_withdrawal_pays_out_at_once(engine, alice):
    deposit(engine, alice, "100.00")
    assert withdraw(engine, alice, "30", method="sandbox").status == "completed"
    assert balance(engine, alice) == {"available": D("70.00"), "held": D(0)}


def test_a_withdrawal_needs_kyc_level_2(engine):
    level1 = new_user(engine, 4, kyc=1)
    deposit(engine, level1, "100.00")
    before = counts(engine)
    with pytest.raises(KycRequired) as err:
        withdraw(engine, level1)
    assert err.value.details == {"required": 2, "current": 1}
    assert counts(engine) == before


def test_a_withdrawal_beyond_the_available_balance_is_refused_and_writes_nothing(engine, alice):
    deposit(engine, alice, "10.00")
    before = counts(engine)
    with pytest.raises(InsufficientFunds):
        withdraw(engine, alice, "10.01", key="too-much")
    assert counts(engine) == before
    assert balance(engine, alice)["available"] == D("10.00")


def test_a_failed_withdrawal_releases_its_hold(engine, alice, admin):
    deposit(engine, alice, "100.00")
    view = withdraw(engine, alice, "40.00")
    assert process(engine, admin, view.id, "fail", reason="account closed").status == "failed"
    assert balance(engine, alice) == {"available": D("100.00"), "held": D(0)}


def test_the_owner_cancels_a_pending_withdrawal_once_and_the_hold_is_released(engine, alice):
    deposit(engine, alice, "100.00")
    view = withdraw(engine, alice, "40.00")
    cancelled = cancel(engine, alice, view.id)
    assert (cancelled.status, cancelled.failure_reason) == ("cancelled", "cancelled by the owner")
    assert balance(engine, alice) == {"available": D("100.00"), "held": D(0)}
    with pytest.raises(InvalidState):
        cancel(engine, alice, view.id)
    assert balance(engine, alice) == {"available": D("100.00"), "held": D(0)}
    with engine.connect() as conn:
        releases = conn.execute(text("SELECT count(*) FROM journal_entries WHERE kind = 'release'")).scalar_one()
    assert releases == 1


def test_only_an_admin_cancels_a_processing_payment(engine, alice, admin):
    deposit(engine, alice, "100.00")
    view = withdraw(engine, alice, "40.00")
    assert process(engine, admin, view.id, "start").status == "processing"
    with pytest.raises(InvalidState):
        cancel(engine, alice, view.id)
    assert cancel(engine, admin, view.id).failure_reason == "cancelled by an admin"
    assert balance(engine, alice) == {"available": D("100.00"), "held": D(0)}


def test_a_completed_payment_cannot_be_cancelled(engine, alice, admin):
    view = deposit(engine, alice, "5")
    with pytest.raises(InvalidState):
        cancel(engine, alice, view.id)
    with pytest.raises(InvalidState):
        cancel(engine, admin, view.id)


def test_concurrent_cancels_release_the_hold_exactly_once(engine, alice):
    deposit(engine, alice, "100.00")
    view = withdraw(engine, alice, "40.00")
    results = at_once(6, lambda _: cancel(engine, alice, view.id))
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, InvalidState) for r in results if isinstance(r, Exception))
    assert balance(engine, alice) == {"available": D("100.00"), "held": D(0)}


# the state machine


def test_transition_refuses_every_pair_outside_its_table(engine, alice):
    view = deposit(engine, alice, "5", method="manual")
    with Session(engine) as s, s.begin():
        record = service._find(s, alice, view.id, lock=True)
        with pytest.raises(InvalidState):
            service.transition(s, record, to="completed")  # settling skips processing: refused
        record = service.transition(s, record, to="processing")
        assert record.status == "processing"
        with pytest.raises(InvalidState):
            service.transition(s, record, to="pending")
        s.rollback()
    states = ("pending", "processing", "completed", "failed", "cancelled")
    finals = {"completed", "failed", "cancelled"}
    assert all(a not in finals for a, _ in service.TRANSITIONS)
    assert {(a, b) for a in states for b in states} & service.TRANSITIONS == service.TRANSITIONS


# visibility


def test_another_users_payment_is_not_found_but_an_admin_sees_it(engine, alice, bob, admin):
    view = deposit(engine, alice, "5", method="manual")
    with pytest.raises(NotFound):
        status(engine, bob, view.id)
    with pytest.raises(NotFound):
        cancel(engine, bob, view.id)
    with pytest.raises(NotFound):
        status(engine, bob, uuid.uuid4())
    assert status(engine, alice, view.id) == view
    assert status(engine, admin, view.id).id == view.id


def test_history_lists_own_payments_newest_first_with_filters_and_pages(engine, alice, bob):
    deposit(engine, alice, "100.00")
    deposit(engine, alice, "2000", "JPY", method="manual")
    withdraw(engine, alice, "10.00")
    deposit(engine, bob, "1.00")
    page = run(engine, service.payments_history, parse(PaymentQuery), actor=alice)
    assert (page.total, [p.kind for p in page.items]) == (3, ["withdrawal", "deposit", "deposit"])
    assert {p.user_id for p in page.items} == {alice.user_id}
    only = run(engine, service.payments_history, parse(PaymentQuery, currency="jpy"), actor=alice)
    assert [str(p.amount) for p in only.items] == ["2000"]
    pending = run(engine, service.payments_history, parse(PaymentQuery, status="pending", kind="withdrawal"),
                  actor=alice)
    assert [p.amount for p in pending.items] == [D("10.00")]
    second = run(engine, service.payments_history, parse(PaymentQuery, page=2, limit=2), actor=alice)
    assert (second.total, second.page, len(second.items)) == (3, 2, 1)


# daily withdrawal limits


def test_withdrawals_over_the_daily_limit_are_refused(engine, alice, admin):
    set_setting(engine, "withdraw_daily_limit_level2", D("100"))
    deposit(engine, alice, "1000.00")
    first = withdraw(engine, alice, "60.00")
    before = counts(engine)
    with pytest.raises(RiskLimit) as err:
        withdraw(engine, alice, "40.01")
    assert (err.value.details["limit"], err.value.details["used"]) == ("100.00", "60.00")
    assert counts(engine) == before
    withdraw(engine, alice, "40.00")  # exactly the limit is allowed
    cancel(engine, alice, first.id)  # cancelled withdrawals do not count
    withdraw(engine, alice, "60.00")
    with pytest.raises(RiskLimit):
        withdraw(engine, alice, "0.01")


def test_yesterdays_withdrawals_do_not_count_towards_today(engine, alice):
    set_setting(engine, "withdraw_daily_limit_level2", D("50"))
    deposit(engine, alice, "1000.00")
    view = withdraw(engine, alice, "50.00")
    with engine.begin() as conn:
        conn.execute(text("UPDATE payments SET created_at = :t WHERE id = :i"),
                     {"t": datetime.now(timezone.utc) - timedelta(days=1), "i": view.id})
    assert withdraw(engine, alice, "50.00").status == "pending"


def test_kyc_level_3_has_its_own_limit(engine):
    set_setting(engine, "withdraw_daily_limit_level2", D("10"))
    set_setting(engine, "withdraw_daily_limit_level3", D("500"))
    level3 = new_user(engine, 5, kyc=3)
    deposit(engine, level3, "1000.00")
    assert withdraw(engine, level3, "500.00").status == "pending"
    with pytest.raises(RiskLimit):
        withdraw(engine, level3, "0.01")


def test_other_currencies_count_at_their_usd_value_and_without_a_rate_the_limit_cannot_be_checked(engine, alice):
    set_setting(engine, "withdraw_daily_limit_level2", D("100"))
    deposit(engine, alice, "1000.00", "EUR")
    with pytest.raises(InvalidState) as err:
        withdraw(engine, alice, "10.00", "EUR")
    assert "limit cannot be checked" in err.value.message
    set_rate(engine, "EUR", "USD", "1.10")
    withdraw(engine, alice, "90.00", "EUR")  # 99.00 USD
    with pytest.raises(RiskLimit):
        withdraw(engine, alice, "1.00", "EUR")  # 100.10 USD


def test_concurrent_withdrawals_cannot_both_slip_under_the_limit(engine, alice):
    set_setting(engine, "withdraw_daily_limit_level2", D("100"))
    deposit(engine, alice, "1000.00")
    results = at_once(8, lambda _: withdraw(engine, alice, "30.00"))
    assert sum(not isinstance(r, Exception) for r in results) == 3
    assert all(isinstance(r, RiskLimit) for r in results if isinstance(r, Exception))
    assert balance(engine, alice) == {"available": D("910.00"), "held": D("90.00")}


# idempotency


def test_a_repeat_with_the_same_key_returns_the_first_payment_and_moves_nothing(engine, alice):
    first = deposit(engine, alice, "100.00", key="dep-1")
    before = counts(engine)
    again = deposit(engine, alice, "100", key="dep-1")  # the same amount, however it is written
    assert again == first
    after = counts(engine)
    assert after["audit_trails"] == before["audit_trails"] + 1  # the replay is audited as one
    assert {t: n for t, n in after.items() if t != "audit_trails"} == \
        {t: n for t, n in before.items() if t != "audit_trails"}
    assert balance(engine, alice)["available"] == D("100.00")
    assert audits(engine, "financial.deposit")[-1].details["replayed"] is True


def test_the_same_key_with_other_parameters_is_a_duplicate(engine, alice):
    deposit(engine, alice, "100.00", key="dep-1")
    with pytest.raises(Duplicate):
        deposit(engine, alice, "100.01", key="dep-1")
    with pytest.raises(Duplicate):
        withdraw(engine, alice, "100.00", key="dep-1")
    assert balance(engine, alice) == {"available": D("100.00"), "held": D(0)}


def test_keys_belong_to_their_user(engine, alice, bob):
    assert deposit(engine, alice, "1", key="same").id != deposit(engine, bob, "1", key="same").id


def test_a_withdrawal_replay_holds_nothing_more(engine, alice):
    deposit(engine, alice, "100.00")
    first = withdraw(engine, alice, "40.00", key="wd-1")
    assert withdraw(engine, alice, "40.00", key="wd-1").id == first.id
    assert balance(engine, alice) == {"available": D("60.00"), "held": D("40.00")}


def test_a_refused_request_does_not_spend_its_key(engine, alice):
    with pytest.raises(InsufficientFunds):
        withdraw(engine, alice, "5.00", key="later")
    deposit(engine, alice, "5.00")
    assert withdraw(engine, alice, "5.00", key="later").status == "pending"


@pytest.mark.concurrency
def test_concurrent_repeats_create_exactly_one_payment_and_one_entry(engine, alice):
    results = at_once(12, lambda _: deposit(engine, alice, "25.00", key="race"))
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.id for r in results}) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payments")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM journal_entries")).scalar_one() == 1
    assert balance(engine, alice)["available"] == D("25.00")


