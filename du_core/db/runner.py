"""The unit of work: one database transaction per service call, retried when PostgreSQL asks.

Services flush, never commit. `run()` owns the transaction: it resolves the caller's session
token into an Actor inside the same transaction, calls the service, commits, and retries the whole
call on serialization failure (40001) or deadlock (40P01). Work registered with `after_commit`
(delivering notifications) runs once the data it depends on is durable.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from du_core.actor import Actor, RequestContext
from du_core.errors import DomainError, Duplicate, InvalidInput, PermissionDenied

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

T = TypeVar("T")
RETRY_SQLSTATES = {"40001", "40P01"}
MAX_ATTEMPTS = 8


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run `fn` after this transaction commits (not at all if it rolls back)."""
    session.info.setdefault("after_commit", []).append(fn)


def run(
    engine: Engine,
    op: Callable[..., T],
    request: Any = None,
    *,
    token: str | None = None,
    actor: Actor | None = None,
    context: RequestContext | None = None,
) -> T:
    """Run one service call in its own transaction and return its result.

    The caller is `actor` when given, else the owner of the access `token`, else anonymous.

    Raises:
        DomainError: whatever the service raised, or the translation of a database error.
    """
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.orm import Session

    from du_core.db.engine import check_connection_error

    for attempt in range(1, MAX_ATTEMPTS + 1):
        session = Session(engine, expire_on_commit=False, autoflush=True)
        try:
            who = _resolve_actor(session, token, actor, context)
            try:
                result = op(session, who, request)
                session.commit()
            except DomainError as err:
                if err.keep_changes:
                    session.commit()
                else:
                    session.rollback()
                if isinstance(err, PermissionDenied) and who.is_authenticated:
                    _audit_denied(engine, who, op, err)
                raise
            for hook in session.info.pop("after_commit", []):
                hook()
            return result
        except DBAPIError as exc:
            with contextlib.suppress(DBAPIError):  # a lost connection cannot roll back: say so below instead
                session.rollback()
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate in RETRY_SQLSTATES and attempt < MAX_ATTEMPTS:
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
                continue
            unavailable = check_connection_error(exc, engine.url.render_as_string(hide_password=False))
            if unavailable is not None:
                raise unavailable from None
            raise _translate(exc) from exc
        finally:
            session.close()
    raise AssertionError("unreachable")  # pragma: no cover


def _resolve_actor(
    session: Session, token: str | None, actor: Actor | None, context: RequestContext | None
) -> Actor:
    if actor is not None:
        return actor
    if token:
        from du_core.auth.sessions import authenticate

        return authenticate(session, token, context or RequestContext())
    return Actor.anonymous(context)


def _audit_denied(engine: Engine, actor: Actor, op: Callable[..., Any], err: DomainError) -> None:
    """Record a refused attempt in a transaction of its own (the service's was rolled back)."""
    from sqlalchemy.orm import Session

    from du_core.audit.trail import record

    with Session(engine) as session, session.begin():
        record(session, actor, getattr(op, "operation_name", op.__name__), outcome="denied",
               details={"error": err.code})


def _translate(exc: Exception) -> DomainError:
    """Turn a constraint the service did not foresee into a typed error instead of a crash."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    if sqlstate == "23505":
        return Duplicate("that already exists", details={"constraint": constraint})
    if sqlstate in ("23514", "23502", "22001", "22003", "23503"):
        return InvalidInput("the database refused the value", details={"constraint": constraint})
    raise exc
