"""Login throttling: lockout per account, the same answer for unknown and known accounts."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from du_core.auth import service
from du_core.auth.schemas import Login, Register
from du_core.db.runner import run
from du_core.errors import AccountLocked, InvalidCredentials
from du_core.validation import parse

PASSWORD = "a long Pass phrase 42"


def register(engine, email, phone):
    run(engine, service.register, parse(Register, email=email, phone=phone, full_name="Lê Văn Tám",
                                        password=PASSWORD, date_of_birth="1985-02-03", nationality="VN"))


def attempt(engine, email, password):
    return run(engine, service.login, parse(Login, email=email, password=password))


@pytest.fixture
def two_users(engine):
    register(engine, "tam@example.com", "+84912345678")
    register(engine, "other@example.com", "+84912345679")


def test_five_failures_lock_the_account_even_for_the_right_password(engine, two_users):
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            attempt(engine, "tam@example.com", "wrong password here")
    with pytest.raises(AccountLocked) as err:
        attempt(engine, "tam@example.com", PASSWORD)
    assert "locked_until" in err.value.details


def test_a_locked_account_does_not_affect_other_accounts(engine, two_users):
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            attempt(engine, "tam@example.com", "wrong password here")
    assert attempt(engine, "other@example.com", PASSWORD).user.email == "other@example.com"


def test_failures_by_phone_and_email_count_for_the_same_account(engine, two_users):
    for i in range(5):
        ident = {"email": "tam@example.com"} if i % 2 else {"phone": "+84912345678"}
        with pytest.raises(InvalidCredentials):
            run(engine, service.login, parse(Login, password="wrong password here", **ident))
    with pytest.raises(AccountLocked):
        attempt(engine, "tam@example.com", PASSWORD)


def test_success_resets_the_failure_count(engine, two_users):
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            attempt(engine, "tam@example.com", "wrong password here")
    attempt(engine, "tam@example.com", PASSWORD)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            attempt(engine, "tam@example.com", "wrong password here")
    attempt(engine, "tam@example.com", PASSWORD)


def test_unknown_account_gets_the_same_error_and_the_same_lock(engine, two_users):
    errors = []
    for _ in range(5):
        with pytest.raises(InvalidCredentials) as err:
            attempt(engine, "nobody@example.com", "wrong password here")
        errors.append((err.value.code, err.value.message))
    with pytest.raises(InvalidCredentials) as known:
        attempt(engine, "other@example.com", "wrong password here")
    assert set(errors) == {(known.value.code, known.value.message)}
    with pytest.raises(AccountLocked):
        attempt(engine, "nobody@example.com", "wrong password here")


def test_unknown_and_wrong_password_take_similar_time(engine, two_users):
    def timed(email):
        samples = []
        for _ in range(5):
            t = time.perf_counter()
            with pytest.raises(InvalidCredentials):
                attempt(engine, email, "wrong password here")
            samples.append(time.perf_counter() - t)
        return min(samples)  # the work itself: a busy machine only ever adds time to a sample

    known, unknown = timed("other@example.com"), timed("nobody@example.com")
    # both run one argon2 verification; without the dummy hash the unknown path is ~10x faster
    assert unknown > known * 0.5 and known > unknown * 0.5


def test_lock_expires_after_the_lockout_window(engine, two_users):
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            attempt(engine, "tam@example.com", "wrong password here")
    with engine.begin() as conn:
        conn.execute(text("UPDATE login_throttle SET locked_until = now() - interval '1 second',"
                          " window_started_at = now() - interval '1 hour'"))
    assert attempt(engine, "tam@example.com", PASSWORD).user.email == "tam@example.com"


def test_failed_logins_are_audited_without_the_password(engine, two_users):
    with pytest.raises(InvalidCredentials):
        attempt(engine, "tam@example.com", "wrong password here")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT outcome, details::text FROM audit_trails WHERE action = 'auth.login'")).all()
    assert [r.outcome for r in rows] == ["failed"]
    assert "wrong password here" not in rows[0][1]
