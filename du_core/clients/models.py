"""Tables of a client's own settings, trading preferences and onboarding progress."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from du_core.db.base import Base

LANGUAGES = ("en", "vi", "fr", "de", "es", "ja", "zh")
TRADING_STYLES = ("long_term", "swing", "day", "scalping", "passive")
RISK_TOLERANCES = ("low", "medium", "high")
EXPERIENCE = ("none", "beginner", "intermediate", "expert")
GOALS = ("growth", "income", "preservation", "speculation", "retirement", "hedging")
ONBOARDING_STEPS = (
    "email_verified", "phone_verified", "profile_completed", "preferences_set",
    "risk_disclosure_accepted", "terms_accepted", "kyc_submitted", "first_deposit",
)


class ClientSettings(Base):
    __tablename__ = "client_settings"
    __table_args__ = (CheckConstraint(f"language IN {LANGUAGES}", name="language"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), server_default="en", default="en")
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC", default="UTC")
    notify_email: Mapped[bool] = mapped_column(server_default="true", default=True)
    notify_sms: Mapped[bool] = mapped_column(server_default="false", default=False)
    notify_trades: Mapped[bool] = mapped_column(server_default="true", default=True)
    notify_price_alerts: Mapped[bool] = mapped_column(server_default="true", default=True)
    notify_marketing: Mapped[bool] = mapped_column(server_default="false", default=False)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ClientPreferences(Base):
    __tablename__ = "client_preferences"
    __table_args__ = (
        CheckConstraint(f"trading_style IS NULL OR trading_style IN {TRADING_STYLES}", name="trading_style"),
        CheckConstraint(f"risk_tolerance IS NULL OR risk_tolerance IN {RISK_TOLERANCES}", name="risk_tolerance"),
        CheckConstraint(f"experience IS NULL OR experience IN {EXPERIENCE}", name="experience"),
        CheckConstraint(f"investment_goals <@ ARRAY{list(GOALS)}::varchar[]", name="goals"),
        CheckConstraint("horizon_years IS NULL OR horizon_years BETWEEN 0 AND 100", name="horizon"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    trading_style: Mapped[str | None] = mapped_column(String(16))
    risk_tolerance: Mapped[str | None] = mapped_column(String(8))
    experience: Mapped[str | None] = mapped_column(String(16))
    investment_goals: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}", default=list)
    horizon_years: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class OnboardingStep(Base):
    __tablename__ = "onboarding_steps"
    __table_args__ = (CheckConstraint(f"step IN {ONBOARDING_STEPS}", name="step"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[str] = mapped_column(String(32), primary_key=True)
    completed_at: Mapped[datetime] = mapped_column(server_default=func.now())
