"""Password hashing (argon2id) and the password policy.

The policy follows NIST SP 800-63B: length matters, composition rules do not; at least 12 and
at most 128 characters, never truncated; no password from the shipped list of common ones.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 128

# OWASP's argon2id configuration (19 MiB, t=2, p=1): about 35 ms a hash on a 2-core server.
# Changing these makes every login rehash the old hashes.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so both answers take the same time."""
    return HASHER.hash("digital-utopia timing equaliser")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("du_core").joinpath("data/common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


# Keyboard rows and runs: "qwertyuiopasdf" is long and in no list, and still guessed at once.
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "qwertzuiopasdfghjklyxcvbnm",
              "azertyuiopqsdfghjklmwxcvbn", "1234567890" * 4, "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p")


def normalise(password: str) -> str:
    """NFC, so that the same password typed on two keyboards hashes the same."""
    return unicodedata.normalize("NFC", password)


def policy_problem(password: str, *, identifiers: tuple[str, ...] = ()) -> str | None:
    """Return why `password` is not acceptable, or None when it is."""
    pw = normalise(password)
    if len(pw) < MIN_LENGTH:
        return f"the password needs at least {MIN_LENGTH} characters"
    if len(pw) > MAX_LENGTH:
        return f"the password may have at most {MAX_LENGTH} characters"
    if any(unicodedata.category(ch) == "Cc" for ch in pw):
        return "the password contains control characters"
    lowered = pw.lower()
    common = common_passwords()
    # "password2024!!" is as guessable as "password": try it without its trailing digits and symbols.
    stem = lowered.rstrip("0123456789!@#$%^&*.?-_ ")
    if (lowered in common or (len(stem) >= 4 and stem in common) or len(set(lowered)) <= 2
            or any(lowered in seq or lowered in seq[::-1] for seq in _SEQUENCES)):
        return "the password is too common; choose a longer phrase of your own"
    for ident in identifiers:
        if ident and len(ident) >= 4 and ident.lower() in lowered:
            return "the password must not contain your email address or phone number"
    return None


def hash_password(password: str) -> str:
    return HASHER.hash(normalise(password))


def verify(stored_hash: str | None, password: str) -> bool:
    """Check a password; with no stored hash, spend the same time and answer False."""
    try:
        return HASHER.verify(stored_hash or _dummy_hash(), normalise(password)) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return HASHER.check_needs_rehash(stored_hash)
