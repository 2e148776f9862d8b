"""Requests and results of the auth operations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from du_core.validation import (
    BirthDate, Country, Email, PersonName, Phone, Request, View, clean_email, clean_phone,
)


class Register(Request):
    email: Email
    phone: Phone
    full_name: PersonName
    password: SecretStr
    date_of_birth: BirthDate
    nationality: Country
    referral_code: str | None = Field(default=None, max_length=32)


class Login(Request):
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    password: SecretStr
    otp: str | None = Field(default=None, pattern=r"^[0-9]{6}$")

    @model_validator(mode="after")
    def _one_identifier(self) -> Login:
        if (self.email is None) == (self.phone is None):
            raise ValueError("log in with exactly one of email or phone")
        return self

    @property
    def identifier(self) -> str:
        """The identifier as typed, normalised when it parses (a bad one simply matches no account)."""
        try:
            return clean_email(self.email) if self.email is not None else clean_phone(self.phone or "")
        except ValueError:
            return (self.email or self.phone or "").strip().lower()


class Refresh(Request):
    refresh_token: SecretStr


class CheckToken(Request):
    token: SecretStr


class VerifyContact(Request):
    channel: Literal["email", "phone"]
    code: SecretStr


class ResendCode(Request):
    channel: Literal["email", "phone"]


class ForgotPassword(Request):
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _one_identifier(self) -> ForgotPassword:
        if (self.email is None) == (self.phone is None):
            raise ValueError("give exactly one of email or phone")
        return self


class ResetPassword(Request):
    token: SecretStr
    new_password: SecretStr


class ChangePassword(Request):
    current_password: SecretStr
    new_password: SecretStr


class RevokeSessions(Request):
    session_id: uuid.UUID | None = None
    all_others: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> RevokeSessions:
        if (self.session_id is None) == (not self.all_others):
            raise ValueError("give a session id or ask for all other sessions")
        return self


class MfaCode(Request):
    otp: str = Field(pattern=r"^[0-9]{6}$")


class UserSummary(View):
    id: uuid.UUID
    email: str
    phone: str
    full_name: str | None = None
    role: str
    status: str
    kyc_level: int
    created_at: datetime


class WhoAmI(View):
    id: uuid.UUID
    email: str
    phone: str
    full_name: str | None
    role: str
    kyc_level: int
    status: str
    permissions: list[str]
    email_verified: bool
    phone_verified: bool
    mfa_enabled: bool
    session_id: uuid.UUID | None
    last_login_at: datetime | None


class Tokens(View):
    """What a client must keep to stay logged in. Front ends store it; they never print it."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    session_id: uuid.UUID
    user_id: uuid.UUID


class LoginResult(View):
    tokens: Tokens
    user: WhoAmI


class SessionView(View):
    id: uuid.UUID  # the session family: one login and all its refreshes
    client: str | None
    profile: str | None
    device: str | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    current: bool


class TokenInfo(View):
    valid: bool
    kind: str | None = None
    user_id: uuid.UUID | None = None
    expires_at: datetime | None = None
    reason: str | None = None


class Message(View):
    """A plain acknowledgement, for operations whose result is a fact rather than a thing."""

    message: str
    details: dict[str, object] = {}


class MfaSetup(View):
    secret: str
    otpauth_uri: str
    message: str
