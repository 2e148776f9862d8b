"""The auth operations: register, log in and out, refresh, verify contacts, reset passwords.

Login answers an unknown account and a wrong password with the same error after the same work
(an argon2 verification against a dummy hash), and counts failures for both alike.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from du_core.actor import Actor, Role
from du_core.admin import settings
from du_core.audit.trail import record
from du_core.auth import passwords, sessions, throttle, tokens
from du_core.auth.models import AuthSession, AuthToken
from du_core.auth.schemas import (
    ChangePassword, CheckToken, ForgotPassword, Login, LoginResult, Message, Refresh, Register,
    ResendCode, ResetPassword, RevokeSessions, SessionView, TokenInfo, UserSummary, VerifyContact, WhoAmI,
)
from du_core.errors import (
    AccountLocked, AuthRequired, Duplicate, InvalidCredentials, InvalidInput, InvalidState,
    MaintenanceMode, MfaRequired, NotFound,
)
from du_core.notifications import outbox
from du_core.operations import operation
from du_core.users.models import User, UserProfile

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CODE_MINUTES = 15
CODE_ATTEMPTS = 5
GENERIC_LOGIN_FAILURE = "wrong email, phone or password"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def whoami_view(session: Session, user: User, session_id: uuid.UUID | None) -> WhoAmI:
    profile = session.get(UserProfile, user.id)
    return WhoAmI(
        id=user.id, email=user.email, phone=user.phone, full_name=profile.full_name if profile else None,
        role=user.role, kyc_level=user.kyc_level, status=user.status, permissions=list(user.permissions or ()),
        email_verified=user.email_verified_at is not None, phone_verified=user.phone_verified_at is not None,
        mfa_enabled=user.mfa_enabled, session_id=session_id, last_login_at=user.last_login_at,
    )


def current_user(session: Session, actor: Actor, *, lock: bool = False) -> User:
    user = session.get(User, actor.user_id, with_for_update=lock)
    if user is None:
        raise AuthRequired("this account no longer exists")
    return user


@operation("auth.register")
def register(session: Session, actor: Actor, req: Register) -> UserSummary:
    """Create a guest account with its profile, and send codes to verify the email and phone.

    Raises:
        InvalidInput: the password breaks the policy, or the referral code is unknown.
        Duplicate: the email or phone already has an account.
    """
    return create_account(session, actor, req, role=Role.guest, action="auth.register")


def create_account(session: Session, actor: Actor, req: Register, *, role: Role, action: str) -> UserSummary:
    """Create an account of `role` with its profile and send verification codes (see register)."""
    problem = passwords.policy_problem(req.password.get_secret_value(), identifiers=(req.email.split("@")[0], req.phone))
    if problem:
        raise InvalidInput(problem, details={"field": "password"})
    for field, value in (("email", req.email), ("phone", req.phone)):
        if session.scalar(select(User.id).where(getattr(User, field) == value)) is not None:
            raise Duplicate(f"an account with this {field} already exists", details={"field": field})
    referrer = None
    if req.referral_code:
        referrer = session.scalar(select(User.id).where(User.referral_code == req.referral_code.strip().upper()))
        if referrer is None:
            raise InvalidInput("unknown referral code", details={"field": "referral_code"})
    user = User(id=uuid.uuid4(), email=req.email, phone=req.phone, role=role.value,
                password_hash=passwords.hash_password(req.password.get_secret_value()), referred_by=referrer)
    session.add(user)
    session.add(UserProfile(user_id=user.id, full_name=req.full_name, date_of_birth=req.date_of_birth,
                            nationality=req.nationality))
    session.flush()
    for channel in ("email", "phone"):
        _send_code(session, user, channel)
    record(session, actor, action, target_type="user", target_id=user.id,
           new={"email": req.email, "phone": req.phone, "full_name": req.full_name,
                "nationality": req.nationality, "referred_by": referrer, "role": user.role})
    return UserSummary(id=user.id, email=user.email, phone=user.phone, full_name=req.full_name,
                       role=user.role, status="active", kyc_level=0, created_at=user.created_at or _now())


@operation("auth.login", in_maintenance=True)
def login(session: Session, actor: Actor, req: Login) -> LoginResult:
    """Check the credentials (and the TOTP code when MFA is on) and start a session.

    Raises:
        InvalidCredentials: unknown account, wrong password or wrong code (the failure is counted).
        AccountLocked: too many recent failures.
        MfaRequired: the account uses MFA and no code was given.
        MaintenanceMode: the platform is in maintenance and the account is not an admin.
    """
    identifier = req.identifier
    column = User.email if req.email is not None else User.phone
    user = session.scalars(select(User).where(column == identifier)).one_or_none()
    key = throttle.key_for(user.id if user else None, identifier)
    until = throttle.locked_until(session, key)
    password_ok = passwords.verify(user.password_hash if user else None, req.password.get_secret_value())
    if until is not None:
        raise AccountLocked("too many failed logins; this account is locked for now",
                            details={"locked_until": until.isoformat()})
    if not password_ok or user is None:
        _fail_login(session, actor, key, user)
    assert user is not None
    if user.mfa_enabled:
        if req.otp is None:
            raise MfaRequired("this account uses two-factor authentication: a one-time code is needed")
        from du_core.auth.mfa import accept_code

        if not accept_code(user, req.otp):
            _fail_login(session, actor, key, user, reason="otp")
    if user.status != "active":
        raise AuthRequired(f"this account is {user.status}; contact support")
    if user.role != Role.admin.value and settings.get(session, "maintenance_mode"):
        raise MaintenanceMode("the platform is in maintenance; try again later")
    throttle.clear(session, key)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(req.password.get_secret_value())
    user.last_login_at = _now()
    issued = sessions.issue(session, user, actor.context)
    who = Actor(user_id=user.id, role=Role(user.role), kyc_level=user.kyc_level, session_id=issued.session_id,
                context=actor.context)
    record(session, who, "auth.login", target_type="user", target_id=user.id,
           details={"session_id": issued.session_id, "mfa": user.mfa_enabled})
    return LoginResult(tokens=issued, user=whoami_view(session, user, issued.session_id))


def _fail_login(session: Session, actor: Actor, key: str, user: User | None, *, reason: str = "password") -> None:
    locked = throttle.record_failure(session, key)
    record(session, actor, "auth.login", target_type="user", target_id=user.id if user else None,
           outcome="failed", details={"reason": reason, "locked": locked is not None})
    raise InvalidCredentials(GENERIC_LOGIN_FAILURE if reason == "password" else "wrong one-time code")


@operation("auth.logout", in_maintenance=True)
def logout(session: Session, actor: Actor, _: None = None) -> Message:
    """End the caller's session (every link of its family)."""
    assert actor.session_id is not None
    sessions.revoke_family(session, actor.session_id, reason="logout")
    record(session, actor, "auth.logout", target_type="session", target_id=actor.session_id)
    return Message(message="logged out")


@operation("auth.refresh")
def refresh(session: Session, actor: Actor, req: Refresh) -> LoginResult:
    """Rotate a refresh token into a new token pair (see sessions.rotate)."""
    issued, user = sessions.rotate(session, req.refresh_token.get_secret_value(), actor.context)
    who = Actor(user_id=user.id, role=Role(user.role), session_id=issued.session_id, context=actor.context)
    record(session, who, "auth.refresh", target_type="session", target_id=issued.session_id)
    return LoginResult(tokens=issued, user=whoami_view(session, user, issued.session_id))


@operation("auth.whoami")
def whoami(session: Session, actor: Actor, _: None = None) -> WhoAmI:
    """The caller's account: role, KYC level, verification and MFA state."""
    return whoami_view(session, current_user(session, actor), actor.session_id)


@operation("auth.check_token")
def check_token(session: Session, actor: Actor, req: CheckToken) -> TokenInfo:
    """Say whether a token is a live access or refresh token, without using it."""
    digest = tokens.digest(req.token.get_secret_value())
    for kind, column, expiry in (("access", AuthSession.access_hash, AuthSession.access_expires_at),
                                 ("refresh", AuthSession.refresh_hash, AuthSession.refresh_expires_at)):
        row = session.execute(select(AuthSession.user_id, expiry, AuthSession.revoked_at).where(column == digest)).first()
        if row is None:
            continue
        if row.revoked_at is not None:
            return TokenInfo(valid=False, kind=kind, reason="revoked")
        if row[1] <= _now():
            return TokenInfo(valid=False, kind=kind, expires_at=row[1], reason="expired")
        return TokenInfo(valid=True, kind=kind, user_id=row.user_id, expires_at=row[1])
    return TokenInfo(valid=False, reason="unknown token")


def _send_code(session: Session, user: User, channel: str) -> None:
    """Issue a fresh verification code for `channel` (earlier unused ones stop working)."""
    purpose = "verify_email" if channel == "email" else "verify_phone"
    session.execute(update(AuthToken).where(AuthToken.user_id == user.id, AuthToken.purpose == purpose,
                                            AuthToken.used_at.is_(None)).values(used_at=_now()))
    code = tokens.new_code()
    session.add(AuthToken(user_id=user.id, purpose=purpose, token_hash=tokens.digest(code, salt=str(user.id)),
                          expires_at=_now() + timedelta(minutes=CODE_MINUTES)))
    outbox.enqueue(
        session, user_id=user.id, channel="email" if channel == "email" else "sms",
        recipient=user.email if channel == "email" else user.phone, template=purpose,
        subject="Your Digital Utopia verification code",
        body=f"Your code is {code}. It expires in {CODE_MINUTES} minutes.\n"
             f"Verify with: du auth verify --channel {channel}",
    )


@operation("auth.verify_resend")
def resend_code(session: Session, actor: Actor, req: ResendCode) -> Message:
    """Send a new verification code for the email address or the phone number."""
    user = current_user(session, actor)
    if (user.email_verified_at if req.channel == "email" else user.phone_verified_at) is not None:
        raise InvalidState(f"your {req.channel} is already verified")
    _send_code(session, user, req.channel)
    record(session, actor, "auth.verify_resend", target_type="user", target_id=user.id, details={"channel": req.channel})
    return Message(message=f"a new code was sent to your {req.channel}")


@operation("auth.verify")
def verify_contact(session: Session, actor: Actor, req: VerifyContact) -> Message:
    """Mark the email or phone verified with the code that was sent to it.

    Raises:
        InvalidCredentials: wrong or expired code (after CODE_ATTEMPTS tries the code is spent).
    """
    user = current_user(session, actor, lock=True)
    purpose = "verify_email" if req.channel == "email" else "verify_phone"
    pending = session.scalars(
        select(AuthToken).where(AuthToken.user_id == user.id, AuthToken.purpose == purpose,
                                AuthToken.used_at.is_(None), AuthToken.expires_at > _now())
        .order_by(AuthToken.created_at.desc()).limit(1).with_for_update()
    ).one_or_none()
    if pending is None:
        raise InvalidState(f"no live code for your {req.channel}; ask for one: du auth verify --resend --channel {req.channel}")
    given = tokens.digest(req.code.get_secret_value().strip(), salt=str(user.id))
    if not hmac.compare_digest(given, pending.token_hash):
        pending.attempts += 1
        if pending.attempts >= CODE_ATTEMPTS:
            pending.used_at = _now()
        record(session, actor, "auth.verify", target_type="user", target_id=user.id, outcome="failed",
               details={"channel": req.channel})
        raise InvalidCredentials("wrong code")
    pending.used_at = _now()
    if req.channel == "email":
        user.email_verified_at = _now()
    else:
        user.phone_verified_at = _now()
    from du_core.clients.onboarding import mark_done

    mark_done(session, user.id, "email_verified" if req.channel == "email" else "phone_verified")
    record(session, actor, "auth.verify", target_type="user", target_id=user.id, details={"channel": req.channel})
    return Message(message=f"your {req.channel} is verified")


@operation("auth.forgot_password")
def forgot_password(session: Session, actor: Actor, req: ForgotPassword) -> Message:
    """Send a single-use reset token to the account's email, if the account exists.

    The answer is the same whether or not it does.
    """
    try:
        ident = Login(email=req.email, phone=req.phone, password="x" * 12).identifier  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a malformed identifier matches nothing
        ident = ""
    column = User.email if req.email is not None else User.phone
    user = session.scalars(select(User).where(column == ident)).one_or_none()
    answer = Message(message="if an account matches, a reset token was sent to its email address")
    if user is None or user.status == "closed":
        return answer
    session.execute(update(AuthToken).where(AuthToken.user_id == user.id, AuthToken.purpose == "password_reset",
                                            AuthToken.used_at.is_(None)).values(used_at=_now()))
    minutes = settings.get(session, "password_reset_minutes")
    token = tokens.new_token(tokens.RESET_PREFIX)
    session.add(AuthToken(user_id=user.id, purpose="password_reset", token_hash=tokens.digest(token),
                          expires_at=_now() + timedelta(minutes=minutes)))
    outbox.enqueue(
        session, user_id=user.id, channel="email", recipient=user.email, template="password_reset",
        subject="Reset your Digital Utopia password",
        body=f"Your password reset token (valid {minutes} minutes, usable once):\n\n{token}\n\n"
             "Reset with: du auth reset-password (it asks for the token and the new password).\n"
             "If you did not ask for this, ignore this message.",
    )
    record(session, actor, "auth.forgot_password", target_type="user", target_id=user.id)
    return answer


@operation("auth.reset_password")
def reset_password(session: Session, actor: Actor, req: ResetPassword) -> Message:
    """Set a new password with a reset token; every session of the account is revoked.

    Raises:
        InvalidCredentials: unknown, used or expired token.
        InvalidInput: the new password breaks the policy (the token stays usable).
    """
    row = session.scalars(select(AuthToken).where(
        AuthToken.token_hash == tokens.digest(req.token.get_secret_value().strip()),
        AuthToken.purpose == "password_reset").with_for_update()).one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= _now():
        raise InvalidCredentials("this reset token is invalid, used or expired; ask for a new one: du auth forgot-password")
    user = session.get(User, row.user_id, with_for_update=True)
    assert user is not None
    _set_password(session, user, req.new_password.get_secret_value())
    row.used_at = _now()
    revoked = sessions.revoke_user(session, user.id, reason="password_reset")
    throttle.clear(session, throttle.key_for(user.id, ""))
    who = Actor(user_id=user.id, role=Role(user.role), context=actor.context)
    record(session, who, "auth.reset_password", target_type="user", target_id=user.id,
           details={"sessions_revoked": revoked})
    outbox.enqueue(session, user_id=user.id, channel="email", recipient=user.email, template="password_changed",
                   subject="Your Digital Utopia password was changed",
                   body="Your password was reset and every session was signed out. "
                        "If this was not you, contact support at once.")
    return Message(message="password changed; every session was signed out", details={"sessions_revoked": revoked})


def _set_password(session: Session, user: User, new_password: str) -> None:
    problem = passwords.policy_problem(new_password, identifiers=(user.email.split("@")[0], user.phone))
    if problem:
        raise InvalidInput(problem, details={"field": "new_password"})
    user.password_hash = passwords.hash_password(new_password)


@operation("auth.change_password")
def change_password(session: Session, actor: Actor, req: ChangePassword) -> Message:
    """Change the caller's password; the caller's other sessions are signed out."""
    user = current_user(session, actor, lock=True)
    if not passwords.verify(user.password_hash, req.current_password.get_secret_value()):
        record(session, actor, "auth.change_password", target_type="user", target_id=user.id, outcome="failed")
        raise InvalidCredentials("the current password is wrong")
    _set_password(session, user, req.new_password.get_secret_value())
    revoked = sessions.revoke_user(session, user.id, reason="password_change", keep_family=actor.session_id)
    record(session, actor, "auth.change_password", target_type="user", target_id=user.id,
           details={"sessions_revoked": revoked})
    return Message(message="password changed; your other sessions were signed out",
                   details={"sessions_revoked": revoked})


@operation("auth.sessions_list")
def list_sessions(session: Session, actor: Actor, _: None = None) -> list[SessionView]:
    """The caller's live sessions, one per login, newest first."""
    rows = session.scalars(
        select(AuthSession).where(AuthSession.user_id == actor.user_id, AuthSession.revoked_at.is_(None),
                                  AuthSession.refresh_expires_at > _now())
        .order_by(AuthSession.created_at.desc())
    ).all()
    return [
        SessionView(id=r.family_id, client=r.client, profile=r.profile, device=r.device, created_at=r.created_at,
                    last_used_at=r.last_used_at, expires_at=r.refresh_expires_at, current=r.family_id == actor.session_id)
        for r in rows
    ]


@operation("auth.sessions_revoke")
def revoke_sessions(session: Session, actor: Actor, req: RevokeSessions) -> Message:
    """Sign out one of the caller's sessions, or all but the current one."""
    assert actor.user_id is not None
    if req.all_others:
        count = sessions.revoke_user(session, actor.user_id, reason="revoked_by_user", keep_family=actor.session_id)
    else:
        owned = session.scalar(select(AuthSession.id).where(
            AuthSession.family_id == req.session_id, AuthSession.user_id == actor.user_id).limit(1))
        if owned is None:
            raise NotFound("no such session of yours", details={"session_id": str(req.session_id)})
        count = sessions.revoke_family(session, req.session_id, reason="revoked_by_user")  # type: ignore[arg-type]
    record(session, actor, "auth.sessions_revoke", target_type="session",
           target_id=req.session_id or "all_others", details={"revoked": count})
    return Message(message=f"{count} session link(s) revoked", details={"revoked": count})
