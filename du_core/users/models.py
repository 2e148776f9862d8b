"""Tables of user accounts and their personal profiles."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from du_core.db.base import Base, created_at, uuid_pk

ROLES = ("guest", "read_only", "standard", "premium", "staff", "compliance", "admin")
STATUSES = ("active", "suspended", "closed")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES}", name="role"),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("kyc_level BETWEEN 0 AND 3", name="kyc_level"),
        CheckConstraint("email = lower(email)", name="email_lower"),
        CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name="phone_e164"),
        Index("ix_users_created_at", "created_at"),
        Index("ix_users_status_created_at", "status", "created_at"),
        Index("ix_users_role", "role", postgresql_where=text("role <> 'guest'")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), server_default="guest", default="guest")
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}", default=list)
    status: Mapped[str] = mapped_column(String(16), server_default="active", default="active")
    kyc_level: Mapped[int] = mapped_column(server_default="0", default=0)
    email_verified_at: Mapped[datetime | None]
    phone_verified_at: Mapped[datetime | None]
    mfa_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_enabled: Mapped[bool] = mapped_column(server_default="false", default=False)
    mfa_last_step: Mapped[int | None]  # the TOTP time step last accepted: a code is good once
    referral_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    referred_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class UserProfile(Base):
    __tablename__ = "user_profiles"
    __table_args__ = (
        CheckConstraint("char_length(full_name) BETWEEN 1 AND 200", name="full_name_length"),
        CheckConstraint("nationality ~ '^[A-Z]{2}$'", name="nationality_alpha2"),
        CheckConstraint("base_currency ~ '^[A-Z]{3,5}$'", name="base_currency"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date]
    nationality: Mapped[str] = mapped_column(String(2))
    address_line: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))
    occupation: Mapped[str | None] = mapped_column(String(100))
    base_currency: Mapped[str] = mapped_column(String(5), server_default="USD", default="USD")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
