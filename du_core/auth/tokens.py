"""Random secrets handed to clients, and the digests that are all the database keeps of them."""

from __future__ import annotations

import hashlib
import secrets

ACCESS_PREFIX = "dua_"
REFRESH_PREFIX = "dur_"
RESET_PREFIX = "dupr_"


def new_token(prefix: str) -> str:
    """256 random bits, URL-safe; the prefix tells a leaked token's kind at a glance."""
    return prefix + secrets.token_urlsafe(32)


def new_code() -> str:
    """A six-digit code for a person to type (short-lived and limited in attempts)."""
    return f"{secrets.randbelow(1_000_000):06d}"


def digest(token: str, *, salt: str = "") -> bytes:
    return hashlib.sha256((salt + token).encode()).digest()
