"""Sessions: issuing tokens, resolving an access token to an Actor, rotating refresh tokens.

A login starts a session family. Each refresh retires the current link (its refresh token may
never be used again) and adds a new one. Presenting a retired refresh token means it was copied:
the whole family is revoked, the thief's link and the owner's alike.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from du_core.actor import Actor, RequestContext, Role
from du_core.admin import settings
from du_core.auth import tokens
from du_core.auth.models import AuthSession
from du_core.auth.schemas import Tokens
from du_core.errors import AuthRequired, SessionExpired

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from du_core.users.models import User

TOUCH_INTERVAL = timedelta(minutes=1)


def now() -> datetime:
    return datetime.now(timezone.utc)


def issue(session: Session, user: User, context: RequestContext, *, family_id: uuid.UUID | None = None) -> Tokens:
    """Create a session link for `user` and return its tokens (the only time they exist in clear)."""
    access, refresh = tokens.new_token(tokens.ACCESS_PREFIX), tokens.new_token(tokens.REFRESH_PREFIX)
    t = now()
    link = AuthSession(
        id=uuid.uuid4(),
        family_id=family_id or uuid.uuid4(),
        user_id=user.id,
        access_hash=tokens.digest(access),
        refresh_hash=tokens.digest(refresh),
        access_expires_at=t + timedelta(minutes=settings.get(session, "access_token_minutes")),
        refresh_expires_at=t + timedelta(days=settings.get(session, "refresh_token_days")),
        client=context.client,
        profile=context.profile,
        device=context.device,
        last_used_at=t,
        created_at=t,
    )
    session.add(link)
    session.flush()
    return Tokens(
        access_token=access, refresh_token=refresh, access_expires_at=link.access_expires_at,
        refresh_expires_at=link.refresh_expires_at, session_id=link.family_id, user_id=user.id,
    )


def authenticate(session: Session, access_token: str, context: RequestContext) -> Actor:
    """Return the Actor owning `access_token`.

    Raises:
        SessionExpired: the access token has expired (a refresh may renew it).
        AuthRequired: the token is unknown or revoked, or the account is not active.
    """
    from sqlalchemy import select, update

    from du_core.users.models import User

    row = session.execute(
        select(AuthSession.id, AuthSession.family_id, AuthSession.access_expires_at, AuthSession.revoked_at,
               AuthSession.last_used_at, User.id, User.role, User.kyc_level, User.permissions, User.status)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.access_hash == tokens.digest(access_token))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        raise AuthRequired("your session has ended; log in again: du auth login")
    t = now()
    if row.access_expires_at <= t:
        raise SessionExpired("your access token has expired; refresh the session: du auth refresh")
    if row.status != "active":
        raise AuthRequired(f"this account is {row.status}; contact support")
    if row.last_used_at is None or t - row.last_used_at > TOUCH_INTERVAL:
        session.execute(update(AuthSession).where(AuthSession.id == row[0]).values(last_used_at=t))
    return Actor(
        user_id=row[5], role=Role(row.role), kyc_level=row.kyc_level,
        permissions=frozenset(row.permissions or ()), session_id=row.family_id, context=context,
    )


def rotate(session: Session, refresh_token: str, context: RequestContext) -> tuple[Tokens, User]:
    """Exchange a refresh token for a new pair; a reused refresh token revokes its whole family.

    Raises:
        AuthRequired: unknown, expired, revoked or reused refresh token (reuse commits the revocation).
    """
    from sqlalchemy import select

    from du_core.users.models import User

    link = session.scalars(
        select(AuthSession).where(AuthSession.refresh_hash == tokens.digest(refresh_token)).with_for_update()
    ).one_or_none()
    if link is None:
        raise AuthRequired("unknown refresh token; log in again: du auth login")
    if link.rotated_at is not None:
        revoke_family(session, link.family_id, reason="refresh_reuse")
        err = AuthRequired("this refresh token was already used; every session of that login is now revoked")
        err.keep_changes = True
        raise err
    if link.revoked_at is not None:
        raise AuthRequired("this session was revoked; log in again: du auth login")
    t = now()
    if link.refresh_expires_at <= t:
        raise AuthRequired("this session has expired; log in again: du auth login")
    user = session.get(User, link.user_id)
    if user is None or user.status != "active":
        raise AuthRequired("this account is not active")
    link.rotated_at = t
    link.revoked_at, link.revoked_reason = t, "rotated"
    return issue(session, user, context, family_id=link.family_id), user


def revoke_family(session: Session, family_id: uuid.UUID, *, reason: str) -> int:
    from sqlalchemy import update

    result = session.execute(
        update(AuthSession).where(AuthSession.family_id == family_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now(), revoked_reason=reason)
    )
    return result.rowcount or 0


def revoke_user(session: Session, user_id: uuid.UUID, *, reason: str, keep_family: uuid.UUID | None = None) -> int:
    """Revoke every live session of a user (except, optionally, one family)."""
    from sqlalchemy import update

    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep_family is not None:
        stmt = stmt.where(AuthSession.family_id != keep_family)
    return session.execute(stmt.values(revoked_at=now(), revoked_reason=reason)).rowcount or 0
