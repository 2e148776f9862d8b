"""Two-factor authentication with time-based one-time codes (TOTP, RFC 6238).

A code is accepted at most once: the time step of the last accepted code is stored, and only a
later step is accepted after it, so a code seen over a shoulder cannot be replayed.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING

from du_core.actor import Actor
from du_core.audit.trail import record
from du_core.auth.schemas import MfaCode, MfaSetup, Message
from du_core.auth.service import current_user
from du_core.errors import InvalidCredentials, InvalidState
from du_core.operations import operation

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from du_core.users.models import User

ISSUER = "Digital Utopia"
STEP_SECONDS = 30
DRIFT_STEPS = 1  # accept the previous and next step too: clocks drift


def accept_code(user: User, code: str, *, at: float | None = None) -> bool:
    """Check `code` against the user's secret; on success remember its step so it works once."""
    import pyotp

    if not user.mfa_secret:
        return False
    totp = pyotp.TOTP(user.mfa_secret)
    current = int((time.time() if at is None else at) // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if user.mfa_last_step is not None and step <= user.mfa_last_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            user.mfa_last_step = step
            return True
    return False


@operation("auth.mfa_enable")
def enable(session: Session, actor: Actor, _: None = None) -> MfaSetup:
    """Create a new TOTP secret; MFA is on once `confirm` proves the authenticator has it."""
    import pyotp

    user = current_user(session, actor, lock=True)
    if user.mfa_enabled:
        raise InvalidState("two-factor authentication is already on; disable it first to change the secret")
    user.mfa_secret, user.mfa_last_step = pyotp.random_base32(), None
    record(session, actor, "auth.mfa_enable", target_type="user", target_id=user.id)
    return MfaSetup(
        secret=user.mfa_secret,
        otpauth_uri=pyotp.TOTP(user.mfa_secret).provisioning_uri(name=user.email, issuer_name=ISSUER),
        message="add this secret to your authenticator app, then run: du auth mfa confirm --otp CODE",
    )


@operation("auth.mfa_confirm")
def confirm(session: Session, actor: Actor, req: MfaCode) -> Message:
    """Turn MFA on with a first valid code from the authenticator."""
    user = current_user(session, actor, lock=True)
    if user.mfa_enabled:
        raise InvalidState("two-factor authentication is already on")
    if not user.mfa_secret:
        raise InvalidState("start with: du auth mfa enable")
    if not accept_code(user, req.otp):
        raise InvalidCredentials("wrong one-time code")
    user.mfa_enabled = True
    record(session, actor, "auth.mfa_confirm", target_type="user", target_id=user.id, new={"mfa_enabled": True})
    return Message(message="two-factor authentication is on; logins now need a code")


@operation("auth.mfa_disable")
def disable(session: Session, actor: Actor, req: MfaCode) -> Message:
    """Turn MFA off; a current code is required so a stolen session alone cannot do it."""
    user = current_user(session, actor, lock=True)
    if not user.mfa_enabled:
        raise InvalidState("two-factor authentication is not on")
    if not accept_code(user, req.otp):
        record(session, actor, "auth.mfa_disable", target_type="user", target_id=user.id, outcome="failed")
        raise InvalidCredentials("wrong one-time code")
    user.mfa_enabled, user.mfa_secret, user.mfa_last_step = False, None, None
    record(session, actor, "auth.mfa_disable", target_type="user", target_id=user.id, new={"mfa_enabled": False})
    return Message(message="two-factor authentication is off")
