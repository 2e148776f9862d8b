"""Requests and results of the client operations: a user's own profile, settings, preferences, onboarding.

Update requests are patches: a field left out (None) stays as it is. They name only the fields a
client may change; role, KYC level, status, email and phone are not among them, and the Request
base refuses any field it does not name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from du_core.clients.models import EXPERIENCE, GOALS, LANGUAGES, RISK_TOLERANCES, TRADING_STYLES
from du_core.validation import BirthDate, Country, PersonName, Request, View, clean_text


def clean_line(value: str, *, field: str, max_length: int) -> str | None:
    """One line of free text (an address, a city); an empty value clears the field."""
    value = clean_text(value, field=field, max_length=max_length)
    if "\n" in value:
        raise ValueError(f"{field} must be a single line")
    return " ".join(value.split()) or None


def clean_postal_code(value: str) -> str | None:
    """A postal code: letters, digits, spaces and hyphens; an empty value clears it."""
    value = clean_line(value, field="postal code", max_length=20) or ""
    if value and not all(ch.isascii() and (ch.isalnum() or ch in " -") for ch in value):
        raise ValueError("postal code may hold letters, digits, spaces and hyphens only")
    return value.upper() or None


def clean_currency(value: str) -> str:
    """A currency or asset code: 3 to 5 letters, stored upper case (USD, VND, USDT)."""
    code = value.strip().upper()
    if not (3 <= len(code) <= 5 and code.isascii() and code.isalpha()):
        raise ValueError("base currency must be 3 to 5 letters, such as USD or VND")
    return code


def clean_timezone(value: str) -> str:
    """An IANA time zone name (Asia/Ho_Chi_Minh), in its canonical spelling."""
    import zoneinfo

    name = clean_text(value, field="timezone", max_length=64)
    known = {tz.lower(): tz for tz in zoneinfo.available_timezones() if tz != "localtime"}
    canonical = known.get(name.lower())
    if canonical is None:
        raise ValueError("timezone must be an IANA time zone name such as Asia/Ho_Chi_Minh or UTC")
    try:
        zoneinfo.ZoneInfo(canonical)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {canonical} cannot be loaded on this system") from None
    return canonical


def one_of(choices: tuple[str, ...], field: str) -> Callable[[str], str]:
    """A validator accepting one of `choices` (case-insensitive), naming them all when it fails."""

    def check(value: str) -> str:
        chosen = value.strip().lower()
        if chosen not in choices:
            raise ValueError(f"{field} must be one of {', '.join(choices)}")
        return chosen

    return check


def clean_goals(values: list[str]) -> list[str]:
    """Investment goals: each one of GOALS, none twice, in the order given."""
    goals = [one_of(GOALS, "each investment goal")(v) for v in values]
    twice = sorted({g for g in goals if goals.count(g) > 1})
    if twice:
        raise ValueError(f"investment goal {twice[0]} is given more than once")
    return goals


AddressLine = Annotated[str, Field(max_length=400), AfterValidator(lambda v: clean_line(v, field="address line",
                                                                                          max_length=200))]
City = Annotated[str, Field(max_length=200), AfterValidator(lambda v: clean_line(v, field="city", max_length=100))]
PostalCode = Annotated[str, Field(max_length=40), AfterValidator(clean_postal_code)]
Occupation = Annotated[str, Field(max_length=200), AfterValidator(lambda v: clean_line(v, field="occupation",
                                                                                        max_length=100))]
Currency = Annotated[str, Field(max_length=8), AfterValidator(clean_currency)]
Language = Annotated[str, Field(max_length=8), AfterValidator(one_of(LANGUAGES, "language"))]
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(clean_timezone)]
TradingStyle = Annotated[str, Field(max_length=16), AfterValidator(one_of(TRADING_STYLES, "trading style"))]
RiskTolerance = Annotated[str, Field(max_length=16), AfterValidator(one_of(RISK_TOLERANCES, "risk tolerance"))]
Experience = Annotated[str, Field(max_length=16), AfterValidator(one_of(EXPERIENCE, "experience"))]
Goals = Annotated[list[Annotated[str, Field(max_length=16)]], Field(max_length=len(GOALS)),
                  AfterValidator(clean_goals)]


class UpdateProfile(Request):
    """The profile fields a client may change. Optional text fields given as "" are cleared."""

    full_name: PersonName | None = None
    date_of_birth: BirthDate | None = None
    nationality: Country | None = None
    address_line: AddressLine | None = None
    city: City | None = None
    postal_code: PostalCode | None = None
    country: Country | None = None
    occupation: Occupation | None = None
    base_currency: Currency | None = None


class UpdateSettings(Request):
    language: Language | None = None
    timezone: TimeZone | None = None
    notify_email: bool | None = None
    notify_sms: bool | None = None
    notify_trades: bool | None = None
    notify_price_alerts: bool | None = None
    notify_marketing: bool | None = None


class UpdatePreferences(Request):
    """Trading preferences; `investment_goals` replaces the whole list ([] clears it)."""

    trading_style: TradingStyle | None = None
    risk_tolerance: RiskTolerance | None = None
    experience: Experience | None = None
    investment_goals: Goals | None = None
    horizon_years: int | None = Field(default=None, ge=0, le=100)


class CompleteStep(Request):
    step: str = Field(max_length=64)


class ProfileView(View):
    user_id: uuid.UUID
    email: str  # read-only here: changing it is a verified flow of its own
    phone: str
    full_name: str
    date_of_birth: date
    nationality: str
    address_line: str | None
    city: str | None
    postal_code: str | None
    country: str | None
    occupation: str | None
    base_currency: str
    updated_at: datetime | None


class SettingsView(View):
    language: str
    timezone: str
    notify_email: bool
    notify_sms: bool
    notify_trades: bool
    notify_price_alerts: bool
    notify_marketing: bool
    updated_at: datetime | None  # None while the defaults were never changed


class PreferencesView(View):
    trading_style: str | None
    risk_tolerance: str | None
    experience: str | None
    investment_goals: list[str]
    horizon_years: int | None
    updated_at: datetime | None


class StepView(View):
    step: str
    done: bool
    completed_at: datetime | None
    self_declared: bool  # the client completes it with `onboarding complete`; the others the platform records


class OnboardingView(View):
    steps: list[StepView]
    next_step: str | None
    completed: int
    total: int
    percent: int
