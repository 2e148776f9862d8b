"""The registry of operations: every public service function, by the name the permission table uses.

A service function is `fn(session, actor, request) -> result`. `@operation("area.name")` registers
it and, on each call, checks the permission table and maintenance mode before the body runs.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from du_core.actor import Actor, authorize

F = TypeVar("F", bound=Callable[..., Any])

REGISTRY: dict[str, Callable[..., Any]] = {}

SERVICE_MODULES = (
    "du_core.auth.service",
    "du_core.auth.mfa",
    "du_core.users.service",
    "du_core.clients.service",
    "du_core.admin.service",
    "du_core.admin.dashboard",
    "du_core.payments.service",
    "du_core.fx.service",
    "du_core.financial.service",
    "du_core.ledger.service",
    "du_core.trading.service",
    "du_core.trading.info",
    "du_core.trading.admin",
    "du_core.trading.preview",
    "du_core.market.service",
    "du_core.portfolio.service",
    "du_core.risk.service",
)


def operation(name: str, *, in_maintenance: bool = False) -> Callable[[F], F]:
    """Register a service function under `name`; guard it with permission and maintenance checks.

    `in_maintenance=True` lets non-admins run it while the platform is in maintenance (logging in
    and out); the operation must then make its own decision where one is needed.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def guarded(session: Any, actor: Actor, request: Any = None) -> Any:
            authorize(actor, name)
            if not in_maintenance and not actor.is_admin:
                from du_core.admin.settings import ensure_not_in_maintenance

                ensure_not_in_maintenance(session)
            return fn(session, actor, request)

        guarded.operation_name = name  # type: ignore[attr-defined]
        if name in REGISTRY:
            raise RuntimeError(f"operation {name} registered twice")
        REGISTRY[name] = guarded
        return guarded  # type: ignore[return-value]

    return decorate


def load_all() -> dict[str, Callable[..., Any]]:
    """Import every service module so that the registry is complete."""
    for module in SERVICE_MODULES:
        importlib.import_module(module)
    return REGISTRY
