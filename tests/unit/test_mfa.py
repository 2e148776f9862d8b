"""TOTP codes (RFC 6238): valid in a small window, each accepted only once."""

from __future__ import annotations

import base64

import pyotp

from du_core.auth.mfa import accept_code
from du_core.users.models import User

NOW = 1_800_000_000.0


def make_user() -> User:
    return User(mfa_secret=pyotp.random_base32(), mfa_last_step=None)


def test_current_code_is_accepted_once():
    user = make_user()
    code = pyotp.TOTP(user.mfa_secret).at(NOW)
    assert accept_code(user, code, at=NOW)
    assert not accept_code(user, code, at=NOW), "a replayed code must be refused"


def test_code_of_previous_step_is_accepted_for_clock_drift():
    user = make_user()
    assert accept_code(user, pyotp.TOTP(user.mfa_secret).at(NOW - 30), at=NOW)


def test_code_two_steps_old_is_refused():
    user = make_user()
    assert not accept_code(user, pyotp.TOTP(user.mfa_secret).at(NOW - 90), at=NOW)


def test_older_code_is_refused_after_a_newer_one_was_used():
    user = make_user()
    totp = pyotp.TOTP(user.mfa_secret)
    assert accept_code(user, totp.at(NOW), at=NOW)
    assert not accept_code(user, totp.at(NOW - 30), at=NOW)


def test_matches_rfc6238_reference_vector():
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); pyotp yields the same truncation.
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert pyotp.TOTP(secret, digits=8).at(59) == "94287082"
