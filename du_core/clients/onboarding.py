"""Onboarding progress: which of the steps towards a funded, trading account a client has done.

Most steps are facts the platform records as they happen (a verified email, a KYC submission, a
first deposit); only the declarations in SELF_DECLARED are the client's to make. A contact counts
as verified when the users table says so, whether or not a step row was written for it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SELF_DECLARED = ("risk_disclosure_accepted", "terms_accepted")

# Why a client cannot declare the other steps, and what does complete them.
RECORDED_BY_PLATFORM = {
    "email_verified": "it is recorded when you verify your email: du auth verify --channel email",
    "phone_verified": "it is recorded when you verify your phone: du auth verify --channel phone",
    "profile_completed": "it is recorded once your profile has an address, a city and a country: "
                         "du client profile update",
    "preferences_set": "it is recorded once you set your trading style and risk tolerance: "
                       "du client preferences update",
    "kyc_submitted": "it is recorded when you submit your identity documents: du compliance kyc submit",
    "first_deposit": "it is recorded when your first deposit arrives: du financial deposit",
}


def mark_done(session: Session, user_id: uuid.UUID, step: str) -> bool:
    """Record `step` as completed (once; repeating it changes nothing). Return True if it is new."""
    from sqlalchemy.dialects.postgresql import insert

    from du_core.clients.models import OnboardingStep

    inserted = session.execute(
        insert(OnboardingStep).values(user_id=user_id, step=step).on_conflict_do_nothing()
        .returning(OnboardingStep.step)
    ).first()
    return inserted is not None


def progress(session: Session, user_id: uuid.UUID) -> dict[str, datetime | None]:
    """Every step in ONBOARDING_STEPS order, mapped to when it was completed (None: not yet)."""
    from sqlalchemy import select

    from du_core.clients.models import ONBOARDING_STEPS, OnboardingStep
    from du_core.users.models import User

    rows = session.execute(
        select(OnboardingStep.step, OnboardingStep.completed_at).where(OnboardingStep.user_id == user_id))
    done: dict[str, datetime | None] = {row.step: row.completed_at for row in rows}
    verified = session.execute(
        select(User.email_verified_at, User.phone_verified_at).where(User.id == user_id)
    ).one_or_none()
    if verified is not None:
        done["email_verified"] = verified.email_verified_at
        done["phone_verified"] = verified.phone_verified_at
    return {step: done.get(step) for step in ONBOARDING_STEPS}
