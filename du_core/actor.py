"""Who is acting, and the one table that says which role may run which operation.

Deny by default: an operation missing from `PERMISSIONS` can be run by nobody, and a test walks
every registered operation against every role. A user's extra permissions (granted by an admin
with `du users role --permission`) name operations they may run beyond their role.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from uuid import UUID

from du_core.errors import AuthRequired, PermissionDenied


class Role(str, enum.Enum):
    """Roles from lowest to highest privilege."""

    guest = "guest"
    read_only = "read_only"
    standard = "standard"
    premium = "premium"
    staff = "staff"
    compliance = "compliance"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = list(Role)


@dataclass(frozen=True)
class RequestContext:
    """Where a request comes from, recorded in the audit trail."""

    client: str = "cli"
    profile: str = "default"
    device: str | None = None


@dataclass(frozen=True)
class Actor:
    """The acting user of one service call (or an anonymous caller)."""

    user_id: UUID | None
    role: Role
    kyc_level: int = 0
    permissions: frozenset[str] = frozenset()
    session_id: UUID | None = None
    context: RequestContext = field(default_factory=RequestContext)

    @classmethod
    def anonymous(cls, context: RequestContext | None = None) -> Actor:
        return cls(user_id=None, role=Role.guest, context=context or RequestContext())

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        return self.is_authenticated and self.role is Role.admin


class Audience(enum.Enum):
    """Rules that are not a set of roles."""

    anyone = "anyone"  # no login needed
    self = "self"  # any logged-in user, on their own data


def at_least(role: Role) -> frozenset[Role]:
    return frozenset(r for r in Role if r.rank >= role.rank)


ADMIN = frozenset({Role.admin})
# Moving money: every logged-in role but read_only (KYC levels are checked by the operations).
MONEY = frozenset(r for r in Role if r is not Role.read_only)
# Trading: standard and up (KYC level 1, checked by the operations).
TRADE = at_least(Role.standard)

# operation name -> who may run it. The operation name is the service's, not the CLI's.
PERMISSIONS: dict[str, Audience | frozenset[Role]] = {
    # auth
    "auth.register": Audience.anyone,
    "auth.login": Audience.anyone,
    "auth.refresh": Audience.anyone,  # the refresh token itself is the credential
    "auth.forgot_password": Audience.anyone,
    "auth.reset_password": Audience.anyone,  # the reset token is the credential
    "auth.check_token": Audience.anyone,
    "auth.logout": Audience.self,
    "auth.whoami": Audience.self,
    "auth.verify": Audience.self,
    "auth.verify_resend": Audience.self,
    "auth.mfa_enable": Audience.self,
    "auth.mfa_confirm": Audience.self,
    "auth.mfa_disable": Audience.self,
    "auth.sessions_list": Audience.self,
    "auth.sessions_revoke": Audience.self,
    "auth.change_password": Audience.self,
    # client: a user's own profile, settings, preferences and onboarding
    "client.profile_show": Audience.self,
    "client.profile_update": Audience.self,
    "client.settings_show": Audience.self,
    "client.settings_update": Audience.self,
    "client.preferences_show": Audience.self,
    "client.preferences_update": Audience.self,
    "client.onboarding_status": Audience.self,
    "client.onboarding_complete": Audience.self,
    # users: user management
    "users.list": ADMIN,
    "users.show": ADMIN,
    "users.role": ADMIN,
    "users.activity": ADMIN,
    # admin
    "admin.bootstrap": Audience.anyone,  # refuses once any admin exists
    "admin.users_list": ADMIN,
    "admin.users_show": ADMIN,
    "admin.users_update": ADMIN,
    "admin.settings_show": ADMIN,
    "admin.settings_update": ADMIN,
    "admin.audit_list": ADMIN,
    "admin.audit_verify": ADMIN,
    "admin.dashboard": ADMIN,
    # financial: money
    "financial.deposit": MONEY,
    "financial.withdraw": MONEY,
    "financial.exchange": MONEY,
    "financial.balance": Audience.self,
    "financial.transactions": Audience.self,
    "financial.reports": Audience.self,
    "financial.rates": Audience.self,
    "financial.assets": Audience.anyone,
    "financial.payments_status": Audience.self,  # own payments; admins any (checked by the operation)
    "financial.payments_cancel": Audience.self,  # own pending payments; admins any
    "financial.payments_history": Audience.self,
    "financial.payments_process": ADMIN,
    # admin: the books
    "admin.ledger_verify": ADMIN,
    "admin.ledger_expire_holds": ADMIN,
    "admin.assets_add": ADMIN,
    "admin.fx_set": ADMIN,
    "admin.fx_import": ADMIN,
    # trading: the exchange (KYC levels are checked by the operations)
    "trading.pairs": Audience.anyone,
    "trading.rules": Audience.anyone,
    "trading.market_data": Audience.self,
    "trading.orderbook": Audience.self,
    "trading.algorithms": Audience.self,
    "trading.place": TRADE,
    "trading.modify": TRADE,
    "trading.preview": Audience.self,  # read-only figures; a role that may not trade is told so in them
    "trading.close_position": TRADE,
    "trading.cancel": Audience.self,  # own orders: a user who may no longer trade may still cancel
    "trading.orders": Audience.self,
    "trading.order": Audience.self,
    "trading.position": Audience.self,
    "trading.account": Audience.self,
    "trading.statistics": Audience.self,
    "trading.trades": Audience.self,
    "trading.risk_assessment": Audience.self,
    "admin.instruments_add": ADMIN,
    "admin.instruments_update": ADMIN,
    # market data
    "market.prices": Audience.anyone,
    "market.ticker": Audience.anyone,
    "market.trades": Audience.anyone,  # public: price, quantity, side and time, never who traded
    "market.history": Audience.anyone,
    "market.analysis": Audience.self,
    "market.feeds": Audience.self,
    "market.import": ADMIN,
    # portfolio: a user's own holdings and performance
    "portfolio.overview": Audience.self,
    "portfolio.holdings": Audience.self,
    "portfolio.holdings_update": MONEY,  # read_only users may look, not record
    "portfolio.performance": Audience.self,
    "portfolio.rebalance": Audience.self,  # --execute places orders: trading.place checks role and KYC
    "portfolio.analytics": Audience.self,
    # risk: own figures; --all / --user / platform-wide views are checked by the operations
    "risk.metrics": Audience.self,
    "risk.exposure": Audience.self,
    "risk.scoring": Audience.self,
    "risk.mitigation": Audience.self,
    "risk.monitoring": Audience.self,
}


def is_allowed(actor: Actor, operation: str) -> bool:
    """Say whether `actor` may run `operation` (False for any unknown operation)."""
    rule = PERMISSIONS.get(operation)
    if rule is None:
        return False
    if rule is Audience.anyone:
        return True
    if not actor.is_authenticated:
        return False
    if rule is Audience.self:
        return True
    return actor.role in rule or operation in actor.permissions


def authorize(actor: Actor, operation: str) -> None:
    """Raise unless `actor` may run `operation`.

    Raises:
        AuthRequired: the operation needs a login and the caller has none.
        PermissionDenied: the caller's role does not allow it.
    """
    if is_allowed(actor, operation):
        return
    if not actor.is_authenticated and operation in PERMISSIONS:
        raise AuthRequired("log in first: du auth login")
    raise PermissionDenied(
        f"your role ({actor.role.value}) may not run {operation}", details={"operation": operation}
    )
