"""The catalogue of platform settings: their types, defaults and meaning.

A setting that was never changed has no row and reads as its default. Later modules read their
own settings (fees, limits) from here; only keys of the catalogue can be set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from du_core.errors import InvalidInput, MaintenanceMode

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Spec:
    type: type
    default: Any
    description: str
    minimum: Any = None
    maximum: Any = None
    check: Callable[[Any], Any] | None = None  # validates (and may normalise) a parsed value


CATALOG: dict[str, Spec] = {
    "maintenance_mode": Spec(bool, False, "refuse every non-admin operation (exit 8)"),
    "trading_enabled": Spec(bool, True, "accept new orders (cancels are always accepted)"),
    "max_leverage": Spec(Decimal, Decimal("1"), "highest leverage a client may use", Decimal("1"), Decimal("100")),
    "maker_fee_rate": Spec(Decimal, Decimal("0.0010"), "fee on the maker side of a fill", Decimal("0"), Decimal("0.1")),
    "taker_fee_rate": Spec(Decimal, Decimal("0.0020"), "fee on the taker side of a fill", Decimal("0"), Decimal("0.1")),
    "fee_tiers": Spec(str, "100000:0.0008/0.0016,1000000:0.0005/0.0010",
                      "lower maker/taker rates from a 30-day traded volume in USD, as VOLUME:MAKER/TAKER,...",
                      check=lambda text: _check_tiers(text)),
    "max_order_notional": Spec(Decimal, Decimal("1000000"), "largest order value in its quote currency", Decimal("0")),
    "max_open_orders": Spec(int, 200, "open orders one user may have", 0, 100_000),
    "login_max_failures": Spec(int, 5, "failed logins before an account is locked", 1, 100),
    "login_lockout_minutes": Spec(int, 15, "how long a locked account stays locked", 1, 10_080),
    "access_token_minutes": Spec(int, 15, "lifetime of an access token", 1, 1_440),
    "refresh_token_days": Spec(int, 30, "lifetime of a refresh token", 1, 365),
    "password_reset_minutes": Spec(int, 30, "lifetime of a password reset token", 5, 1_440),
    "withdraw_daily_limit_level2": Spec(Decimal, Decimal("10000"), "withdrawals per user and UTC day, in USD, "
                                        "at KYC level 2", Decimal("0")),
    "withdraw_daily_limit_level3": Spec(Decimal, Decimal("250000"), "withdrawals per user and UTC day, in USD, "
                                        "at KYC level 3", Decimal("0")),
    "fx_spread": Spec(Decimal, Decimal("0.005"), "share of a currency exchange kept as the platform's fee",
                      Decimal("0"), Decimal("0.1")),
    "fx_max_age_hours": Spec(int, 96, "older FX rates are stale and refuse to convert", 1, 8_760),
    # risk monitoring (du risk monitoring): platform limits; a client's risk tolerance only tightens them
    "risk_max_concentration": Spec(Decimal, Decimal("0.5"), "largest share of a portfolio's value one holding may "
                                   "take (cash in the base currency excepted)", Decimal("0.01"), Decimal("1")),
    "risk_var_limit_fraction": Spec(Decimal, Decimal("0.05"), "largest 1-day 95 % historical value at risk, as a "
                                    "share of the portfolio's value", Decimal("0.001"), Decimal("1")),
    "risk_max_drawdown": Spec(Decimal, Decimal("0.30"), "largest drawdown of the current holdings over the last "
                              "365 days", Decimal("0.01"), Decimal("1")),
    "risk_warn_ratio": Spec(Decimal, Decimal("0.8"), "share of a risk limit from which monitoring warns",
                            Decimal("0.1"), Decimal("1")),
    "risk_monitor_max_users": Spec(int, 200, "users with holdings evaluated by one platform-wide risk monitoring",
                                   1, 10_000),
}


def parse(key: str, raw: str) -> Any:
    """Parse a setting's text value with its type and bounds.

    Raises:
        InvalidInput: unknown key, or a value of the wrong type or out of bounds.
    """
    spec = CATALOG.get(key)
    if spec is None:
        raise InvalidInput(f"unknown setting {key!r}", details={"allowed": sorted(CATALOG)})
    text = raw.strip()
    value: Any
    if spec.type is bool:
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0", "on", "off", "yes", "no"):
            raise InvalidInput(f"{key} takes true or false", details={"key": key})
        value = lowered in ("true", "1", "on", "yes")
    elif spec.type is int:
        if not text.isascii() or not text.lstrip("-").isdigit():
            raise InvalidInput(f"{key} takes a whole number", details={"key": key})
        value = int(text)
    elif spec.type is Decimal:
        try:
            value = Decimal(text) if text.isascii() and "_" not in text else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or "e" in text.lower():
            raise InvalidInput(f"{key} takes a plain decimal number", details={"key": key})
    else:
        value = text
    if spec.check is not None:
        value = spec.check(value)
    if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
        raise InvalidInput(
            f"{key} must lie between {spec.minimum} and {spec.maximum}",
            details={"key": key, "minimum": str(spec.minimum), "maximum": str(spec.maximum)},
        )
    return value


def _check_tiers(text: str) -> str:
    from du_core.trading.fees import parse_tiers

    parse_tiers(text)
    return text.replace(" ", "")


def _to_json(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _from_json(key: str, stored: Any) -> Any:
    spec = CATALOG[key]
    return Decimal(stored) if spec.type is Decimal else spec.type(stored)


def current(session: Session) -> dict[str, Any]:
    """All settings with their values in force (cached for the rest of the transaction)."""
    cached = session.info.get("platform_settings")
    if cached is None:
        from du_core.db import fast

        rows = dict(fast.execute(session, "SELECT key, value FROM platform_settings").fetchall())
        cached = {k: (_from_json(k, rows[k]) if k in rows else spec.default) for k, spec in CATALOG.items()}
        session.info["platform_settings"] = cached
    return cached


def get(session: Session, key: str) -> Any:
    return current(session)[key]


def store(session: Session, key: str, value: Any, *, by: Any) -> None:
    """Write one setting (upsert) in the caller's transaction."""
    from sqlalchemy import func
    from sqlalchemy.dialects.postgresql import insert

    from du_core.admin.models import PlatformSetting

    stmt = insert(PlatformSetting).values(key=key, value=_to_json(value), updated_by=by)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[PlatformSetting.key],
        set_={"value": stmt.excluded.value, "updated_by": by, "updated_at": func.now()},
    ))
    session.info.pop("platform_settings", None)


def ensure_not_in_maintenance(session: Session) -> None:
    """Raise MaintenanceMode while the platform is in maintenance."""
    if get(session, "maintenance_mode"):
        raise MaintenanceMode("the platform is in maintenance; try again later")
