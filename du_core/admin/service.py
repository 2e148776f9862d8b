"""Platform administration: the first admin, accounts, settings, and the audit trail.

The account operations are user management's own (du_core.users.service) run under the admin's
operation names. Settings change all together or not at all. Verifying the audit trail is a pure
read; turning a broken trail into an error is the caller's choice (`ensure_intact`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select, text

from du_core.actor import Actor, Role
from du_core.admin import settings
from du_core.admin.models import PlatformSetting
from du_core.admin.schemas import (
    AuditQuery, AuditVerification, BreachView, SettingView, UpdateSettings, UpdateUser,
)
from du_core.audit import trail
from du_core.audit.models import AuditTrail
from du_core.audit.trail import record
from du_core.auth import service as auth_service
from du_core.auth.schemas import Register, UserSummary
from du_core.errors import AuditTampered, InvalidInput, InvalidState
from du_core.operations import operation
from du_core.users.models import User
from du_core.users.schemas import AuditPage, UserDetail, UserId, UserPage, UserQuery
from du_core.users.service import (
    audit_page, change_account, find_user, like_escape, lock_admins, query_users, user_detail,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Held while settings change, so that the old values written to the audit trail are the real ones.
SETTINGS_LOCK = 72_057_594_037_927_939


@operation("admin.bootstrap")
def bootstrap(session: Session, actor: Actor, req: Register) -> UserSummary:
    """Create the platform's first admin, exactly as registration creates an account.

    Raises:
        InvalidState: the platform already has an admin.
        InvalidInput, Duplicate: as for auth.register.
    """
    lock_admins(session)  # two bootstraps at once: the second waits, then sees the first admin
    if session.scalar(select(exists().where(User.role == Role.admin.value))):
        raise InvalidState("the platform already has an admin; ask an admin for an account")
    return auth_service.create_account(session, actor, req, role=Role.admin, action="admin.bootstrap")


@operation("admin.users_list")
def users_list(session: Session, actor: Actor, req: UserQuery) -> UserPage:
    """List accounts, newest first, filtered by status, role and search text."""
    return query_users(session, req)


@operation("admin.users_show")
def users_show(session: Session, actor: Actor, req: UserId) -> UserDetail:
    """Show one account in full.

    Raises:
        NotFound: no such user.
    """
    return user_detail(session, req.user_id)


@operation("admin.users_update")
def users_update(session: Session, actor: Actor, req: UpdateUser) -> UserDetail:
    """Change an account's status, KYC level, role or notes; suspending or closing signs it out.

    Raises:
        NotFound: no such user.
        PermissionDenied: the role is above the caller's own.
        InvalidState: a forbidden status change, or the last active admin would be demoted,
            suspended or closed.
    """
    user = find_user(session, req.user_id, lock=True)
    changes: dict[str, Any] = {}
    if req.status is not None:
        changes["status"] = req.status
    if req.kyc_level is not None:
        changes["kyc_level"] = req.kyc_level
    if req.role is not None:
        changes["role"] = req.role.value
    if req.notes is not None:
        changes["notes"] = req.notes or None
    change = change_account(session, actor, user, changes)
    if change:
        record(session, actor, "admin.users_update", target_type="user", target_id=user.id,
               old=change.old, new=change.new,
               details={"sessions_revoked": change.sessions_revoked} if change.sessions_revoked else None)
    return user_detail(session, user.id)


def _setting_views(session: Session, keys: list[str]) -> list[SettingView]:
    values = settings.current(session)
    rows = {r.key: r for r in session.scalars(select(PlatformSetting).where(PlatformSetting.key.in_(keys)))}
    views = []
    for key in keys:
        spec, row = settings.CATALOG[key], rows.get(key)
        views.append(SettingView(
            key=key, value=values[key], default=spec.default, type=spec.type.__name__.lower(),
            description=spec.description, minimum=spec.minimum, maximum=spec.maximum,
            updated_at=row.updated_at if row else None, updated_by=row.updated_by if row else None,
        ))
    return views


@operation("admin.settings_show")
def settings_show(session: Session, actor: Actor, _: None = None) -> list[SettingView]:
    """Every platform setting: its value, default, type, meaning, and who changed it when."""
    return _setting_views(session, list(settings.CATALOG))


@operation("admin.settings_update")
def settings_update(session: Session, actor: Actor, req: UpdateSettings) -> list[SettingView]:
    """Change settings, all of them or none: one bad value changes nothing.

    Raises:
        InvalidInput: an unknown key, or a value of the wrong type or out of bounds (details list
            every bad one).
    """
    parsed: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for key, raw in req.values.items():
        try:
            parsed[key] = settings.parse(key, raw)
        except InvalidInput as err:
            problems.append({"key": key, "problem": err.message})
    if problems:
        details: dict[str, Any] = {"errors": problems}
        if any(p["key"] not in settings.CATALOG for p in problems):
            details["allowed"] = sorted(settings.CATALOG)
        raise InvalidInput(f"{problems[0]['problem']}; no setting was changed", details=details)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SETTINGS_LOCK})
    session.info.pop("platform_settings", None)  # read the values in force now, not before the lock
    before = settings.current(session)
    old = {k: before[k] for k, v in parsed.items() if before[k] != v}
    for key in old:
        settings.store(session, key, parsed[key], by=actor.user_id)
    if old:
        record(session, actor, "admin.settings_update", target_type="settings",
               old=old, new={k: parsed[k] for k in old})
    return _setting_views(session, list(parsed))


@operation("admin.audit_list")
def audit_list(session: Session, actor: Actor, req: AuditQuery) -> AuditPage:
    """Audit records, newest first, filtered by actor, action, target, outcome and time."""
    conditions = []
    if req.actor_id is not None:
        conditions.append(AuditTrail.actor_id == req.actor_id)
    if req.action is not None:
        if req.action.endswith("*"):
            conditions.append(AuditTrail.action.like(f"{like_escape(req.action[:-1])}%", escape="\\"))
        else:
            conditions.append(AuditTrail.action == req.action)
    if req.target_id is not None:
        conditions.append(AuditTrail.target_id == req.target_id)
    if req.outcome is not None:
        conditions.append(AuditTrail.outcome == req.outcome)
    if req.since is not None:
        conditions.append(AuditTrail.occurred_at >= req.since)
    if req.until is not None:
        conditions.append(AuditTrail.occurred_at <= req.until)
    return audit_page(session, conditions, req)


@operation("admin.audit_verify")
def audit_verify(session: Session, actor: Actor, _: None = None) -> AuditVerification:
    """Recompute every hash chain of the audit trail and report the first breach of each.

    The walk runs on a connection of its own in one REPEATABLE READ, read-only snapshot: the
    caller's transaction has already read (resolving the session token), too late to change its
    isolation, and records committed meanwhile must not be half-seen.
    """
    from sqlalchemy.orm import Session as OrmSession

    engine = session.get_bind().engine
    with engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn:
        with conn.begin(), OrmSession(bind=conn) as snapshot:
            result = trail.verify(snapshot)
    breaches = [BreachView(**asdict(b)) for b in result.breaches]
    return AuditVerification(ok=result.ok, records=result.records, chains=result.chains, breaches=breaches)


def ensure_intact(report: AuditVerification) -> None:
    """Raise unless the verification found the trail intact.

    Raises:
        AuditTampered: naming the first breach; details carry every breach.
    """
    if report.ok:
        return
    first = report.breaches[0]
    where = f"record {first.record_id}" if first.record_id else f"the end of chain {first.chain}"
    more = len(report.breaches) - 1
    raise AuditTampered(
        f"the audit trail was tampered with at {where} (chain {first.chain}, seq {first.seq}): {first.reason}"
        + (f"; {more} more chain(s) broken" if more else ""),
        details={"records": report.records, "chains": report.chains,
                 "breaches": [b.model_dump(mode="json") for b in report.breaches]},
    )
