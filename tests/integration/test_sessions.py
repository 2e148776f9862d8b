"""Sessions on a real database: rotation, reuse detection, expiry, revocation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from du_core.actor import RequestContext
from du_core.auth import service
from du_core.auth.schemas import Login, Refresh, Register
from du_core.db.runner import run
from du_core.errors import AuthRequired, SessionExpired
from du_core.validation import parse

PASSWORD = "a long Pass phrase 42"


@pytest.fixture
def user(engine):
    return run(engine, service.register, parse(
        Register, email="hoa@example.com", phone="+84912345678", full_name="Trần Thị Hoa", password=PASSWORD,
        date_of_birth="1990-05-01", nationality="VN"))


def login(engine):
    return run(engine, service.login, parse(Login, email="hoa@example.com", password=PASSWORD),
               context=RequestContext(device="test"))


def whoami(engine, token):
    return run(engine, service.whoami, token=token)


def test_tokens_are_stored_only_as_digests(engine, user):
    tokens = login(engine).tokens
    with engine.connect() as conn:
        dump = conn.execute(text("SELECT row_to_json(s)::text FROM auth_sessions s")).scalar()
    assert tokens.access_token not in dump and tokens.refresh_token not in dump
    assert len(tokens.access_token) >= 40  # 256 random bits, URL-safe


def test_refresh_rotates_and_the_old_access_token_stops_working(engine, user):
    first = login(engine).tokens
    second = run(engine, service.refresh, Refresh(refresh_token=first.refresh_token)).tokens
    assert second.access_token != first.access_token and second.session_id == first.session_id
    assert whoami(engine, second.access_token).email == "hoa@example.com"
    with pytest.raises(AuthRequired):
        whoami(engine, first.access_token)


def test_replayed_refresh_token_revokes_the_whole_family(engine, user):
    first = login(engine).tokens
    second = run(engine, service.refresh, Refresh(refresh_token=first.refresh_token)).tokens
    with pytest.raises(AuthRequired) as err:
        run(engine, service.refresh, Refresh(refresh_token=first.refresh_token))
    assert "already used" in err.value.message
    with pytest.raises(AuthRequired):
        whoami(engine, second.access_token)
    with pytest.raises(AuthRequired):
        run(engine, service.refresh, Refresh(refresh_token=second.refresh_token))


def test_other_logins_survive_a_replay_in_one_family(engine, user):
    victim, other = login(engine).tokens, login(engine).tokens
    run(engine, service.refresh, Refresh(refresh_token=victim.refresh_token))
    with pytest.raises(AuthRequired):
        run(engine, service.refresh, Refresh(refresh_token=victim.refresh_token))
    assert whoami(engine, other.access_token).email == "hoa@example.com"


def test_expired_access_token_says_expired_so_clients_can_refresh(engine, user):
    tokens = login(engine).tokens
    with engine.begin() as conn:
        conn.execute(text("UPDATE auth_sessions SET access_expires_at = :t"),
                     {"t": datetime.now(timezone.utc) - timedelta(seconds=1)})
    with pytest.raises(SessionExpired):
        whoami(engine, tokens.access_token)


def test_logout_revokes_the_session(engine, user):
    tokens = login(engine).tokens
    run(engine, service.logout, token=tokens.access_token)
    with pytest.raises(AuthRequired):
        whoami(engine, tokens.access_token)
    with pytest.raises(AuthRequired):
        run(engine, service.refresh, Refresh(refresh_token=tokens.refresh_token))


def test_suspended_account_is_refused_even_with_a_live_token(engine, user):
    tokens = login(engine).tokens
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET status = 'suspended'"))
    with pytest.raises(AuthRequired):
        whoami(engine, tokens.access_token)


def test_login_rehashes_a_password_stored_with_weaker_parameters(engine, user):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET password_hash = :h"), {"h": weak})
    login(engine)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar()
    assert stored != weak and "m=19456,t=2,p=1" in stored
    assert login(engine).user.email == "hoa@example.com"


def test_an_expired_reset_token_is_refused(engine, user):
    from du_core.auth import tokens
    from du_core.auth.schemas import ResetPassword
    from du_core.errors import InvalidCredentials

    token = tokens.new_token(tokens.RESET_PREFIX)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO auth_tokens (id, user_id, purpose, token_hash, expires_at, attempts)"
                          " SELECT gen_random_uuid(), id, 'password_reset', :h, now() - interval '1 second', 0"
                          " FROM users"), {"h": tokens.digest(token)})
    with pytest.raises(InvalidCredentials):
        run(engine, service.reset_password, ResetPassword(token=token, new_password="another long pass phrase 7"))
    assert login(engine).user.email == "hoa@example.com", "the old password still works"


def test_a_newer_reset_request_voids_the_earlier_token(engine, user, tmp_path, monkeypatch):
    import re

    from du_core.auth.schemas import ForgotPassword, ResetPassword
    from du_core.errors import InvalidCredentials
    from du_core.notifications import outbox

    outbox.configure(outbox.FileSender(tmp_path / "outbox.log"))
    try:
        for _ in range(2):
            run(engine, service.forgot_password, ForgotPassword(email="hoa@example.com"))
        first, second = re.findall(r"(dupr_\S+)", (tmp_path / "outbox.log").read_text())
        with pytest.raises(InvalidCredentials):
            run(engine, service.reset_password, ResetPassword(token=first, new_password="another long pass phrase 7"))
        run(engine, service.reset_password, ResetPassword(token=second, new_password="another long pass phrase 7"))
    finally:
        outbox._sender = None
