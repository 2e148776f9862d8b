"""Login throttling: a few failures lock the account for a while.

Failures count per account when the identifier names one, and per identifier otherwise, so an
unknown address is answered exactly like a known one, lock included.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from du_core.admin import settings
from du_core.auth.models import LoginThrottle

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def key_for(user_id: uuid.UUID | None, identifier: str) -> str:
    if user_id is not None:
        return f"user:{user_id}"
    return "id:" + hashlib.sha256(identifier.encode()).hexdigest()[:64]


def locked_until(session: Session, key: str) -> datetime | None:
    """When the key's lock ends, or None if it is not locked (takes the row lock for the login)."""
    row = session.get(LoginThrottle, key, with_for_update=True)
    now = datetime.now(timezone.utc)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    return None


def record_failure(session: Session, key: str) -> datetime | None:
    """Count a failure atomically; return the lock's end when this failure locks the key."""
    from sqlalchemy import text

    now = datetime.now(timezone.utc)
    window = timedelta(minutes=settings.get(session, "login_lockout_minutes"))
    stale = "login_throttle.window_started_at <= :since OR login_throttle.locked_until <= :now"
    failures = session.execute(
        text(
            "INSERT INTO login_throttle (key, failures, window_started_at) VALUES (:key, 1, :now)"
            f" ON CONFLICT (key) DO UPDATE SET"
            f" failures = CASE WHEN {stale} THEN 1 ELSE login_throttle.failures + 1 END,"
            f" window_started_at = CASE WHEN {stale} THEN :now ELSE login_throttle.window_started_at END,"
            f" locked_until = CASE WHEN {stale} THEN NULL ELSE login_throttle.locked_until END"
            " RETURNING failures"
        ),
        {"key": key, "now": now, "since": now - window},
    ).scalar_one()
    if failures < settings.get(session, "login_max_failures"):
        return None
    until = now + window
    session.execute(text("UPDATE login_throttle SET locked_until = :u WHERE key = :key"), {"u": until, "key": key})
    return until


def clear(session: Session, key: str) -> None:
    from sqlalchemy import delete

    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
