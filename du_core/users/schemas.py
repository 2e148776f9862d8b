"""Requests and results of user management: listing, showing and changing accounts, their activity."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from du_core.actor import PERMISSIONS, Role
from du_core.validation import Paging, Request, View

Status = Literal["active", "suspended", "closed"]


def _known_operation(name: str) -> str:
    if name not in PERMISSIONS:
        raise ValueError(f"unknown permission {name!r}: a permission is the name of an operation, such as users.show")
    return name


Permission = Annotated[str, Field(max_length=64), AfterValidator(_known_operation)]


# Paging shared by every listing (kept under its old name for the modules that import it).
PageRequest = Paging


class UserQuery(PageRequest):
    status: Status | None = None
    role: Role | None = None
    search: str | None = Field(default=None, min_length=1, max_length=254)


class UserId(Request):
    user_id: uuid.UUID


class SetRole(Request):
    """Set a role and, when given, replace the extra permissions (None keeps the current ones)."""

    user_id: uuid.UUID
    role: Role
    permissions: list[Permission] | None = Field(default=None, max_length=len(PERMISSIONS))


class ActivityQuery(PageRequest):
    user_id: uuid.UUID


class UserRow(View):
    id: uuid.UUID
    email: str
    phone: str
    full_name: str | None
    role: str
    status: str
    kyc_level: int
    created_at: datetime
    last_login_at: datetime | None


class UserPage(View):
    items: list[UserRow]
    page: int
    limit: int
    total: int


class ProfileView(View):
    full_name: str
    date_of_birth: date
    nationality: str
    address_line: str | None
    city: str | None
    postal_code: str | None
    country: str | None
    occupation: str | None
    base_currency: str


class UserDetail(View):
    id: uuid.UUID
    email: str
    phone: str
    full_name: str | None
    role: str
    permissions: list[str]
    status: str
    kyc_level: int
    email_verified: bool
    phone_verified: bool
    mfa_enabled: bool
    active_sessions: int
    last_login_at: datetime | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    profile: ProfileView | None


class AuditRecord(View):
    id: uuid.UUID
    occurred_at: datetime
    chain: int
    seq: int
    actor_id: uuid.UUID | None
    actor_role: str | None
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    client: str | None
    profile: str | None
    device: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    details: dict[str, Any] | None


class AuditPage(View):
    items: list[AuditRecord]
    page: int
    limit: int
    total: int
