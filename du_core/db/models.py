"""Every table of the platform, gathered so that migrations see the whole schema."""

from __future__ import annotations

from du_core.admin.models import PlatformSetting
from du_core.audit.models import AuditChain, AuditTrail
from du_core.auth.models import AuthSession, AuthToken, LoginThrottle
from du_core.clients.models import ClientPreferences, ClientSettings, OnboardingStep
from du_core.db.base import Base
from du_core.notifications.models import Notification
from du_core.users.models import User, UserProfile

metadata = Base.metadata

__all__ = [
    "AuditChain", "AuditTrail", "AuthSession", "AuthToken", "ClientPreferences", "ClientSettings",
    "LoginThrottle", "Notification", "OnboardingStep", "PlatformSetting", "User", "UserProfile",
    "metadata",
]
