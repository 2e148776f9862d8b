"""Validation at the edge of the core: text that users type, checked once, the same everywhere."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints
from pydantic import ValidationError as PydanticError

from du_core.errors import InvalidInput
from du_core.money import plain

M = TypeVar("M", bound=BaseModel)


class Request(BaseModel):
    """Base of every service request: unknown fields are an error, not silently dropped."""

    # defer_build: a command builds the validators of the models it uses, not of every model it imports
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True)


class View(BaseModel):
    """Base of every service result: what front ends render and `--json` prints as is."""

    model_config = ConfigDict(from_attributes=True, defer_build=True)


def parse(model: type[M], **data: Any) -> M:
    """Build a request model, turning pydantic's errors into InvalidInput without echoing input.

    Raises:
        InvalidInput: naming the first bad field; details list every problem (never the values,
            which may be passwords).
    """
    try:
        return model(**data)
    except PydanticError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "input", "problem": _clean(e["msg"])}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        first = problems[0]
        raise InvalidInput(f"{first['field']}: {first['problem']}", details={"errors": problems}) from None


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


# Characters that change what a terminal shows (escape sequences, bidirectional overrides,
# zero-width characters) or are not characters at all.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_NAME_PUNCTUATION = set(" -'.,’")


def clean_name(value: str, *, field: str = "name", max_length: int = 200) -> str:
    """Return a person's name in NFC with single spaces; reject control and invisible characters."""
    value = unicodedata.normalize("NFC", value)
    bad = [ch for ch in value if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES]
    if bad:
        raise ValueError(f"{field} contains control or invisible characters (U+{ord(bad[0]):04X})")
    value = " ".join(value.split())
    if not value:
        raise ValueError(f"{field} is empty")
    if len(value) > max_length:
        raise ValueError(f"{field} is longer than {max_length} characters")
    for ch in value:
        if ch in _NAME_PUNCTUATION:
            continue
        if unicodedata.category(ch)[0] not in "LM":
            raise ValueError(f"{field} may hold letters, spaces and - ' . , only (found {ch!r})")
    if not any(unicodedata.category(ch)[0] == "L" for ch in value):
        raise ValueError(f"{field} needs at least one letter")
    return value


def clean_text(value: str, *, field: str, max_length: int) -> str:
    """Free text (notes, addresses): NFC, no control or invisible characters except newlines."""
    value = unicodedata.normalize("NFC", value).strip()
    for ch in value:
        if ch != "\n" and unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            raise ValueError(f"{field} contains control or invisible characters (U+{ord(ch):04X})")
    if len(value) > max_length:
        raise ValueError(f"{field} is longer than {max_length} characters")
    return value


def clean_email(value: str) -> str:
    """Return the normalised, lower-case address; the domain is checked for syntax, not looked up."""
    from email_validator import EmailNotValidError, validate_email

    try:
        info = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return info.normalized.lower()


def clean_phone(value: str) -> str:
    """Return the number in E.164 (+84912345678); it must carry its country code and be valid."""
    import phonenumbers

    raw = value.strip()
    if not raw.startswith("+"):
        raise ValueError("give the phone number in international form, starting with + and the country code")
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_country(value: str, *, field: str = "country") -> str:
    """Return an ISO 3166-1 alpha-2 code (upper case)."""
    import pycountry

    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{field} must be an ISO 3166-1 alpha-2 country code such as VN or US")
    return code


MIN_AGE = 18


def clean_birth_date(value: date, *, today: date | None = None) -> date:
    """A date of birth: in the past, at least MIN_AGE years ago, at most 130."""
    today = today or date.today()
    if value > today:
        raise ValueError("date of birth is in the future")
    age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if age < MIN_AGE:
        raise ValueError(f"clients must be at least {MIN_AGE} years old")
    if age > 130:
        raise ValueError("date of birth is more than 130 years ago")
    return value


# Field types for requests: each validates and normalises once, wherever it is used.

Email = Annotated[str, Field(max_length=254), AfterValidator(clean_email)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(clean_phone)]
PersonName = Annotated[str, Field(max_length=400), AfterValidator(lambda v: clean_name(v, field="full name"))]
Country = Annotated[str, Field(max_length=8), AfterValidator(clean_country)]
BirthDate = Annotated[date, AfterValidator(clean_birth_date)]


def clean_key(value: str) -> str:
    """An idempotency or client order key: 1-128 printable ASCII characters, no spaces."""
    if not (1 <= len(value) <= 128) or not value.isascii() or not all(33 <= ord(c) <= 126 for c in value):
        raise ValueError("keys are 1-128 printable ASCII characters without spaces")
    return value


IdempotencyKey = Annotated[str, AfterValidator(clean_key)]


class Paging(Request):
    """Page and limit of a listing (pages count from 1)."""

    page: int = Field(default=1, ge=1, le=1_000_000)
    limit: int = Field(default=50, ge=1, le=200)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


# An amount exactly as typed: not even stripped, so that money.parse_amount (given the asset's
# precision by the operation) is the one judge of it, spaces included.
AmountText = Annotated[str, StringConstraints(strip_whitespace=False, max_length=64)]

# A Decimal shown in positional notation as stored ("0.00000001", never "1E-8"), a string in JSON.
Exact = Annotated[Decimal, PlainSerializer(plain, return_type=str, when_used="json")]
