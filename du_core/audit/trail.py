"""Writing and verifying the tamper-evident audit trail.

Each record is linked into one of `CHAINS` hash chains: its hash covers its own content and the
hash of the record before it in the same chain. A transaction picks one chain at random and locks
only that chain's head row until it commits, so concurrent writers spread over the chains instead
of queueing on one lock, and never fork a chain. Verification walks every chain from its genesis
and names the first record whose content, link or position does not match.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from du_core.actor import Actor

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CHAINS = 16
GENESIS = hashlib.sha256(b"digital-utopia audit genesis").digest()
REDACTED = "[redacted]"
# Keys that hold a secret (password, new_password, mfa_secret, reset_token, password_hash, otp);
# "access_token_minutes" is a setting about tokens, not a token, and stays readable.
_SECRET = re.compile(r"(^|_)(password|passphrase|secret|token|otp|hash)$|^(code|verification_code|api_key)$",
                     re.IGNORECASE)
_FIELDS = (
    "chain", "seq", "occurred_at", "actor_id", "actor_role", "client", "profile", "device", "action",
    "target_type", "target_id", "outcome", "old_values", "new_values", "details",
)


def jsonable(value: Any) -> Any:
    """Convert a value to plain JSON types, exactly (Decimal as a string, never a float)."""
    if value is None or type(value) in (str, int, bool):  # most values: checked first, it runs per record
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def redact(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Replace the value of every key that names a secret; the key stays, so the change is visible."""
    if values is None:
        return None
    return {
        k: (REDACTED if _SECRET.search(k) else redact(v) if isinstance(v, dict) else v)
        for k, v in jsonable(values).items()
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object | None = None,
    outcome: str = "success",
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit record in the caller's transaction (two statements, the chain head locked)."""
    from du_core.db import fast

    chain = session.info.setdefault("audit_chain", random.randrange(CHAINS))
    seq, prev = fast.execute(
        session, "UPDATE audit_chains SET seq = seq + 1 WHERE chain = %(c)s RETURNING seq, head_hash", {"c": chain}
    ).fetchone()
    ctx = actor.context
    row = {
        "chain": chain,
        "seq": seq,
        "occurred_at": datetime.now(timezone.utc),
        "actor_id": actor.user_id,
        "actor_role": actor.role.value if actor.is_authenticated else None,
        "client": ctx.client,
        "profile": ctx.profile,
        "device": ctx.device,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id) if target_id is not None else None,
        "outcome": outcome,
        "old_values": redact(old),
        "new_values": redact(new),
        "details": redact(details),
    }
    digest = link_hash(prev, row)
    fast.execute(
        session,
        "WITH appended AS (INSERT INTO audit_trails (id, chain, seq, occurred_at, actor_id, actor_role, client,"
        " profile, device, action, target_type, target_id, outcome, old_values, new_values, details, prev_hash,"
        " hash) VALUES (%(id)s, %(chain)s, %(seq)s, %(occurred_at)s, %(actor_id)s, %(actor_role)s, %(client)s,"
        " %(profile)s, %(device)s, %(action)s, %(target_type)s, %(target_id)s, %(outcome)s,"
        " %(old_values)s::jsonb, %(new_values)s::jsonb, %(details)s::jsonb, %(prev_hash)s, %(hash)s))"
        " UPDATE audit_chains SET head_hash = %(hash)s WHERE chain = %(chain)s",
        {
            **row,
            "id": uuid.uuid4(),
            "old_values": _dump(row["old_values"]),
            "new_values": _dump(row["new_values"]),
            "details": _dump(row["details"]),
            "prev_hash": bytes(prev),
            "hash": digest,
        },
    )


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def link_hash(prev: bytes, row: dict[str, Any]) -> bytes:
    """The hash of one record: its canonical content, chained to the hash before it."""
    canonical = json.dumps(
        [jsonable(row[f]) for f in _FIELDS], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(prev + canonical.encode()).digest()


@dataclass(frozen=True)
class Breach:
    """The first record of a chain that does not verify."""

    chain: int
    seq: int
    record_id: str | None
    occurred_at: datetime | None
    reason: str


@dataclass(frozen=True)
class Verification:
    records: int
    chains: int
    breaches: list[Breach]

    @property
    def ok(self) -> bool:
        return not self.breaches


def verify(session: Session) -> Verification:
    """Recompute every chain and return the first breach of each (none when the trail is intact).

    Run it in a REPEATABLE READ transaction so records committed meanwhile are not half-seen.
    """
    from sqlalchemy import text

    heads = {c: (s, h) for c, s, h in session.execute(text("SELECT chain, seq, head_hash FROM audit_chains"))}
    breaches: list[Breach] = []
    count = 0
    cols = ", ".join(_FIELDS)
    for chain in sorted(heads):
        head_seq, head_hash = heads[chain]
        expected_seq, prev = 1, GENESIS
        breach: Breach | None = None
        rows = session.execute(
            text(f"SELECT id, {cols}, prev_hash, hash FROM audit_trails WHERE chain = :c ORDER BY seq"),
            {"c": chain},
            execution_options={"yield_per": 2000},
        ).mappings()
        for r in rows:
            count += 1
            if breach is not None:
                continue
            reason = None
            if r["seq"] != expected_seq:
                reason = ("a record is missing before this one" if r["seq"] > expected_seq
                          else "a record was inserted out of sequence")
            elif bytes(r["prev_hash"]) != prev:
                reason = "its link to the previous record is broken"
            elif link_hash(prev, dict(r)) != bytes(r["hash"]):
                reason = "its content does not match its hash"
            elif r["seq"] > head_seq:
                reason = "it lies beyond the chain's recorded head (inserted behind the platform's back)"
            if reason:
                breach = Breach(chain, r["seq"], str(r["id"]), r["occurred_at"], reason)
                continue
            expected_seq, prev = r["seq"] + 1, bytes(r["hash"])
        if breach is None and (expected_seq - 1 != head_seq or prev != bytes(head_hash)):
            breach = Breach(chain, expected_seq, None, None,
                            f"the chain ends at {expected_seq - 1} but its head says {head_seq}: records removed")
        if breach is not None:
            breaches.append(breach)
    breaches.sort(key=lambda b: (b.occurred_at is None, b.occurred_at or datetime.max.replace(tzinfo=timezone.utc)))
    return Verification(records=count, chains=len(heads), breaches=breaches)
