"""Onboarding progress: which of the steps towards a funded, trading account a client has done."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def mark_done(session: Session, user_id: uuid.UUID, step: str) -> None:
    """Record `step` as completed (once; repeating it changes nothing)."""
    from sqlalchemy.dialects.postgresql import insert

    from du_core.clients.models import OnboardingStep

    session.execute(insert(OnboardingStep).values(user_id=user_id, step=step).on_conflict_do_nothing())
