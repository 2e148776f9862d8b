"""Idempotency keys: a repeated money-moving request returns its first result and moves nothing.

The key is claimed with an INSERT in the operation's own transaction. A concurrent repeat blocks
on the key's unique index until the first commits (then replays its result) or rolls back (then
runs itself); a crash rolls the key back with the work, so a retry after it applies exactly
once. The same key with different parameters is refused, as Stripe and TigerBeetle do.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from du_core.errors import Duplicate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

V = TypeVar("V", bound=BaseModel)


def fingerprint(operation: str, request: BaseModel) -> bytes:
    """What makes two requests the same: the operation and every field but the key itself."""
    body = request.model_dump_json(exclude={"idempotency_key"})
    return hashlib.sha256(f"{operation}\n{body}".encode()).digest()


def once(
    session: Session,
    *,
    user_id: uuid.UUID,
    key: str | None,
    operation: str,
    request: BaseModel,
    result_type: type[V],
    work: Callable[[], V],
) -> V:
    """Run `work()` unless `key` was used before by this user; then return the first result.

    Raises:
        Duplicate: the key was used for another operation or other parameters.
    """
    if key is None:
        return work()
    from sqlalchemy import text

    digest = fingerprint(operation, request)
    claimed = session.execute(
        text("INSERT INTO idempotency_keys (user_id, key, operation, request_hash) VALUES (:u, :k, :o, :h)"
             " ON CONFLICT DO NOTHING RETURNING 1"),
        {"u": user_id, "k": key, "o": operation, "h": digest},
    ).first()
    if claimed is None:
        row = session.execute(
            text("SELECT operation, request_hash, response FROM idempotency_keys WHERE user_id = :u AND key = :k"),
            {"u": user_id, "k": key},
        ).one()
        if row.operation != operation or bytes(row.request_hash) != digest:
            raise Duplicate("this idempotency key was already used for a different request",
                            details={"idempotency_key": key, "operation": row.operation})
        return result_type.model_validate(row.response)
    result = work()
    session.execute(
        text("UPDATE idempotency_keys SET response = CAST(:r AS jsonb) WHERE user_id = :u AND key = :k"),
        {"r": result.model_dump_json(), "u": user_id, "k": key},
    )
    return result

