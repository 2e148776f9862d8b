"""Every error the core reports to a caller, grouped by what the caller should do about it.

    DomainError                      code            what the caller does
    ├── InvalidInput                 validation_error  fix the input
    ├── NotFound                     not_found         check the id
    ├── AuthError
    │   ├── AuthRequired             auth_required     log in
    │   │   ├── SessionExpired       session_expired   refresh the session, then retry
    │   │   └── MfaRequired          mfa_required      repeat with the one-time code
    │   ├── InvalidCredentials       invalid_credentials  check the password or code
    │   └── PermissionDenied         permission_denied ask someone allowed
    ├── Conflict                     (state)           change the state first
    │   ├── InsufficientFunds        insufficient_funds
    │   ├── Duplicate                duplicate
    │   ├── InvalidState             invalid_state
    │   │   ├── AuditTampered        audit_tampered
    │   │   └── LedgerDrift          ledger_drift
    │   ├── KycRequired              kyc_required
    │   └── RiskLimit                risk_limit
    ├── Throttled                                      wait, then retry
    │   ├── RateLimited              rate_limited
    │   └── AccountLocked            account_locked
    ├── Unavailable                                    retry later or call an operator
    │   ├── DatabaseUnavailable      database_unavailable
    │   ├── MaintenanceMode          maintenance_mode
    │   ├── TradingDisabled          trading_disabled
    │   └── CredentialStoreUnavailable credential_store_unavailable
    └── InternalError                internal_error    report a bug

`kind` is the group name; front ends map kinds to exit codes or notifications. Messages never
contain secrets: they are shown to users and written to logs as they are.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code: ClassVar[str] = "internal_error"
    kind: ClassVar[str] = "internal"
    # True when the work done before the error must still be committed (a failed login's
    # counter, the audit record of a refused attempt).
    keep_changes: bool = False

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """Return the error as the `{"code", "message", "details"}` document of CLI.md."""
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(DomainError):
    code = "validation_error"
    kind = "input"



class NotFound(DomainError):
    code = "not_found"
    kind = "not_found"


class AuthError(DomainError):
    kind = "auth"


class AuthRequired(AuthError):
    code = "auth_required"


class SessionExpired(AuthRequired):
    code = "session_expired"


class PermissionDenied(AuthError):
    code = "permission_denied"


class Conflict(DomainError):
    code = "conflict"
    kind = "conflict"


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class Duplicate(Conflict):
    code = "duplicate"


class InvalidState(Conflict):
    code = "invalid_state"


class AuditTampered(InvalidState):
    """The audit trail does not verify: a record was changed, removed or forged."""

    code = "audit_tampered"


class LedgerDrift(InvalidState):
    """The books do not verify: a cached balance, an entry or a held balance is off."""

    code = "ledger_drift"


class KycRequired(Conflict):
    code = "kyc_required"


class RiskLimit(Conflict):
    code = "risk_limit"


class Throttled(DomainError):
    code = "rate_limited"
    kind = "throttled"


class RateLimited(Throttled):
    code = "rate_limited"


class AccountLocked(Throttled):
    code = "account_locked"


class Unavailable(DomainError):
    code = "unavailable"
    kind = "unavailable"


class DatabaseUnavailable(Unavailable):
    code = "database_unavailable"


class MaintenanceMode(Unavailable):
    code = "maintenance_mode"


class TradingDisabled(Unavailable):
    code = "trading_disabled"


class CredentialStoreUnavailable(Unavailable):
    code = "credential_store_unavailable"


class InternalError(DomainError):
    code = "internal_error"
    kind = "internal"


class InvalidCredentials(AuthError):
    """Wrong password, wrong code or unknown account: one answer for all, so accounts stay private."""

    code = "invalid_credentials"
    keep_changes = True


class MfaRequired(AuthRequired):
    code = "mfa_required"
