"""Every table of the platform, gathered so that migrations see the whole schema."""

from __future__ import annotations

from du_core.admin.models import PlatformSetting
from du_core.audit.models import AuditChain, AuditTrail
from du_core.auth.models import AuthSession, AuthToken, LoginThrottle
from du_core.clients.models import ClientPreferences, ClientSettings, OnboardingStep
from du_core.db.base import Base
from du_core.financial.models import FxRate, Payment
from du_core.ledger.models import Asset, Hold, IdempotencyKey, JournalEntry, LedgerAccount, Posting
from du_core.market.models import Candle, MarketFeed
from du_core.notifications.models import Notification
from du_core.portfolio.models import ExternalHolding
from du_core.risk.models import RiskAlert
from du_core.trading.models import Instrument, Order, Position, Trade
from du_core.users.models import User, UserProfile

metadata = Base.metadata

__all__ = [
    "Asset", "AuditChain", "AuditTrail", "AuthSession", "AuthToken", "ClientPreferences", "ClientSettings",
    "FxRate", "Hold", "IdempotencyKey", "Instrument", "JournalEntry", "LedgerAccount", "LoginThrottle", "Notification",
    "OnboardingStep", "Order", "Payment", "PlatformSetting", "Position", "Posting", "Trade", "User", "UserProfile",
    "Candle", "ExternalHolding", "MarketFeed", "RiskAlert", "metadata",
]
