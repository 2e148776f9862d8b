"""The password policy and hashing, without a database."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from du_core.auth import passwords


@pytest.mark.parametrize("pw", ["a" * 11, "short pass"])
def test_policy_rejects_fewer_than_twelve_characters(pw):
    assert "at least 12" in passwords.policy_problem(pw)


def test_policy_rejects_more_than_128_characters_instead_of_truncating():
    assert passwords.policy_problem("x1y2" * 33) is not None
    assert passwords.policy_problem(("x1y2" * 32)[:128]) is None


@pytest.mark.parametrize("pw", ["123qweasdzxc", "qwertyuiopasdfgh", "password123456", "Password2024!!",
                                "aaaaaaaaaaaaaaaa", "abababababababab"])
def test_policy_rejects_common_and_padded_common_passwords(pw):
    assert "too common" in passwords.policy_problem(pw)


def test_policy_rejects_a_password_containing_the_email_name():
    assert "email" in passwords.policy_problem("hoa.tran-rocks-2024", identifiers=("hoa.tran",))


def test_policy_accepts_a_long_unicode_passphrase():
    assert passwords.policy_problem("Nguyễn rides a bike at dawn") is None


def test_common_list_is_shipped_with_the_package():
    common = passwords.common_passwords()
    assert len(common) > 20_000 and "password" in common


def test_hash_is_argon2id_with_owasp_parameters_or_stronger():
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    params = passwords.HASHER
    assert params.memory_cost >= 19456 and params.time_cost >= 2


def test_verify_accepts_nfc_and_nfd_spellings_of_the_same_password():
    stored = passwords.hash_password("Nguye\u0302\u0303n bike at dawn")
    assert passwords.verify(stored, "Nguyễn bike at dawn")
    assert not passwords.verify(stored, "Nguyen bike at dawn")


def test_verify_without_a_stored_hash_is_false():
    assert passwords.verify(None, "anything at all here") is False


def test_weaker_old_hashes_need_rehash():
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery")
    assert passwords.needs_rehash(old)
    assert not passwords.needs_rehash(passwords.hash_password("correct horse battery"))
