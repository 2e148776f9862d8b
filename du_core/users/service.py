"""User management: the account queries and changes behind `du users` and `du admin users`.

Listing, showing and changing accounts live here once; the admin operations run the same
functions under their own operation names. Every change keeps two promises: nobody changes an
account above their own role or grants more than they hold themselves (which matters once a
non-admin is given `users.role` as an extra permission), and the platform never loses its last
active admin (checked under ADMINS_LOCK, which admin.bootstrap takes too, so checks never race).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, text

from du_core.actor import Actor, Role, is_allowed
from du_core.audit.models import AuditTrail
from du_core.audit.trail import record
from du_core.auth import sessions
from du_core.auth.models import AuthSession
from du_core.errors import InvalidState, NotFound, PermissionDenied
from du_core.operations import operation
from du_core.users.models import User, UserProfile
from du_core.users.schemas import (
    ActivityQuery, AuditPage, AuditRecord, PageRequest, ProfileView, SetRole, UserDetail, UserId, UserPage,
    UserQuery, UserRow,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from sqlalchemy.sql import ColumnElement, Select

# Transaction-scoped advisory lock held while deciding anything about who the admins are.
ADMINS_LOCK = 72_057_594_037_927_938

# The account status machine: (from, to) pairs an admin may make. A closed account stays closed.
STATUS_TRANSITIONS = frozenset({
    ("active", "suspended"), ("active", "closed"), ("suspended", "active"), ("suspended", "closed"),
})
ENDS_SESSIONS = ("suspended", "closed")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def lock_admins(session: Session) -> None:
    """Hold ADMINS_LOCK until the transaction ends (taken before counting or creating admins)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADMINS_LOCK})


def like_escape(term: str) -> str:
    """`term` for a LIKE pattern with ESCAPE '\\': its %, _ and \\ match themselves."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fetch_page(session: Session, stmt: Select[Any], paging: PageRequest) -> tuple[list[Any], int]:
    """One page of an ordered query's rows, and the number of rows of every page together."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.execute(stmt.limit(paging.limit).offset(paging.offset)).all()
    return list(rows), total


def find_user(session: Session, user_id: uuid.UUID, *, lock: bool = False) -> User:
    """The user with this id.

    Raises:
        NotFound: no such user.
    """
    user = session.get(User, user_id, with_for_update=lock)
    if user is None:
        raise NotFound("no such user", details={"user_id": str(user_id)})
    return user


def query_users(session: Session, req: UserQuery) -> UserPage:
    """A page of accounts, newest first, filtered by status, role and a search of email, phone or name."""
    stmt = select(User, UserProfile.full_name).outerjoin(UserProfile, UserProfile.user_id == User.id)
    if req.status is not None:
        stmt = stmt.where(User.status == req.status)
    if req.role is not None:
        stmt = stmt.where(User.role == req.role.value)
    if req.search is not None:
        pattern = f"%{like_escape(req.search)}%"
        stmt = stmt.where(or_(User.email.ilike(pattern, escape="\\"), User.phone.ilike(pattern, escape="\\"),
                              UserProfile.full_name.ilike(pattern, escape="\\")))
    rows, total = fetch_page(session, stmt.order_by(User.created_at.desc(), User.id), req)
    items = [
        UserRow(id=u.id, email=u.email, phone=u.phone, full_name=name, role=u.role, status=u.status,
                kyc_level=u.kyc_level, created_at=u.created_at, last_login_at=u.last_login_at)
        for u, name in rows
    ]
    return UserPage(items=items, page=req.page, limit=req.limit, total=total)


def user_detail(session: Session, user_id: uuid.UUID) -> UserDetail:
    """Everything an admin sees of one account: profile, verification, MFA, live sessions, last login.

    Raises:
        NotFound: no such user.
    """
    user = find_user(session, user_id)
    profile = session.get(UserProfile, user.id)
    live = session.scalar(
        select(func.count(func.distinct(AuthSession.family_id))).where(
            AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None), AuthSession.refresh_expires_at > _now())
    ) or 0
    return UserDetail(
        id=user.id, email=user.email, phone=user.phone, full_name=profile.full_name if profile else None,
        role=user.role, permissions=list(user.permissions or ()), status=user.status, kyc_level=user.kyc_level,
        email_verified=user.email_verified_at is not None, phone_verified=user.phone_verified_at is not None,
        mfa_enabled=user.mfa_enabled, active_sessions=live, last_login_at=user.last_login_at, notes=user.notes,
        created_at=user.created_at, updated_at=user.updated_at,
        profile=ProfileView.model_validate(profile) if profile else None,
    )


@dataclass
class Change:
    """What an account change did: the old and new values of the fields that really changed."""

    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)
    sessions_revoked: int = 0

    def __bool__(self) -> bool:
        return bool(self.new)


def change_account(session: Session, actor: Actor, user: User, changes: dict[str, Any]) -> Change:
    """Apply `changes` (field name -> new value) to a user locked by the caller.

    Fields whose value is already the given one are left alone. Suspending or closing an account
    revokes all of its sessions.

    Raises:
        PermissionDenied: the user's role is above the caller's, or the caller grants a role above
            their own or a permission they do not hold.
        InvalidState: a status change the state table forbids, or the change would leave the
            platform without an active admin.
    """
    change = Change()
    for name, value in changes.items():
        if getattr(user, name) != value:
            change.old[name], change.new[name] = getattr(user, name), value
    if not change:
        return change
    if Role(user.role).rank > actor.role.rank:
        raise PermissionDenied(f"your role ({actor.role.value}) may not change the account of a {user.role}",
                               details={"user_id": str(user.id)})
    _check_grants(actor, change)
    if "status" in change.new and (change.old["status"], change.new["status"]) not in STATUS_TRANSITIONS:
        raise InvalidState(f"an account that is {change.old['status']} cannot become {change.new['status']}",
                           details={"user_id": str(user.id), "status": change.old["status"]})
    _keep_an_admin(session, user, role=changes.get("role", user.role), status=changes.get("status", user.status))
    for name, value in change.new.items():
        setattr(user, name, value)
    if change.new.get("status") in ENDS_SESSIONS:
        change.sessions_revoked = sessions.revoke_user(session, user.id, reason=f"account_{change.new['status']}")
    session.flush()
    return change


def _check_grants(actor: Actor, change: Change) -> None:
    if "role" in change.new and Role(change.new["role"]).rank > actor.role.rank:
        raise PermissionDenied(f"your role ({actor.role.value}) may not grant the role {change.new['role']}",
                               details={"role": change.new["role"]})
    granted = set(change.new.get("permissions", ())) - set(change.old.get("permissions", ()))
    beyond = sorted(p for p in granted if not is_allowed(actor, p))
    if beyond:
        raise PermissionDenied(f"you may not grant a permission you do not hold: {beyond[0]}",
                               details={"permissions": beyond})


def _keep_an_admin(session: Session, user: User, *, role: str, status: str) -> None:
    """Refuse to demote, suspend or close the last active admin."""
    if user.role != Role.admin.value or user.status != "active":
        return
    if role == Role.admin.value and status == "active":
        return
    lock_admins(session)
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.admin.value, User.status == "active", User.id != user.id))
    if not others:
        raise InvalidState("this is the last active admin: make another admin first",
                           details={"user_id": str(user.id)})


def audit_page(session: Session, conditions: Iterable[ColumnElement[bool]], paging: PageRequest) -> AuditPage:
    """A page of audit records matching every condition, newest first."""
    stmt = select(AuditTrail).where(*conditions).order_by(AuditTrail.occurred_at.desc(), AuditTrail.id)
    rows, total = fetch_page(session, stmt, paging)
    return AuditPage(items=[AuditRecord.model_validate(r) for (r,) in rows], page=paging.page,
                     limit=paging.limit, total=total)


@operation("users.list")
def list_users(session: Session, actor: Actor, req: UserQuery) -> UserPage:
    """List accounts, newest first (see query_users)."""
    return query_users(session, req)


@operation("users.show")
def show_user(session: Session, actor: Actor, req: UserId) -> UserDetail:
    """Show one account in full.

    Raises:
        NotFound: no such user.
    """
    return user_detail(session, req.user_id)


@operation("users.role")
def set_role(session: Session, actor: Actor, req: SetRole) -> UserDetail:
    """Set a user's role and, when given, replace their extra permissions.

    Raises:
        NotFound: no such user.
        PermissionDenied: the role or a permission is above the caller's own.
        InvalidState: the last active admin would lose the admin role.
    """
    user = find_user(session, req.user_id, lock=True)
    changes: dict[str, Any] = {"role": req.role.value}
    if req.permissions is not None:
        changes["permissions"] = sorted(set(req.permissions))
    change = change_account(session, actor, user, changes)
    if change:
        record(session, actor, "users.role", target_type="user", target_id=user.id, old=change.old, new=change.new)
    return user_detail(session, user.id)


@operation("users.activity")
def user_activity(session: Session, actor: Actor, req: ActivityQuery) -> AuditPage:
    """The audit records a user made or was the target of, newest first.

    Raises:
        NotFound: no such user.
    """
    find_user(session, req.user_id)
    involved = or_(AuditTrail.actor_id == req.user_id, AuditTrail.target_id == str(req.user_id))
    return audit_page(session, [involved], req)

