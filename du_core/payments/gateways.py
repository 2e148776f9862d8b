"""Payment gateways: where a deposit or withdrawal goes once the platform has recorded it.

A gateway is told what to pay (a `Submission`) and answers with a `Decision`: settle now, wait
for someone to process it, or refuse it. It never touches the books or the payment's status:
the payments service applies every decision through the same state machine, so all gateways'
payments follow one lifecycle and one set of ledger entries. A gateway that talks to an outside
service (a bank, a card processor) would take an httpx transport, as the FX importer does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from du_core.errors import InvalidInput


@dataclass(frozen=True)
class Submission:
    """What a gateway is asked to move: the money of one payment, in or out."""

    payment_id: uuid.UUID
    kind: str  # "deposit" or "withdrawal"
    asset: str
    amount: Decimal
    destination: str | None = None


@dataclass(frozen=True)
class Decision:
    """A gateway's answer: `completed` (settle now), `pending` (wait to be processed) or `failed`."""

    outcome: Literal["pending", "completed", "failed"]
    reference: str | None = None
    reason: str | None = None


class Gateway(Protocol):
    """A way for money to enter or leave the platform."""

    name: str

    def submit(self, payment: Submission) -> Decision:
        """Take the payment on; say whether it settled, waits or was refused."""
        ...


class Sandbox:
    """Settles every payment at once: for demos and tests."""

    name = "sandbox"

    def submit(self, payment: Submission) -> Decision:
        return Decision("completed", reference=f"sandbox-{payment.payment_id.hex[:16]}")


class Manual:
    """Leaves every payment pending until an operator runs `du financial payments process`."""

    name = "manual"

    def submit(self, payment: Submission) -> Decision:
        return Decision("pending")


_REGISTRY: dict[str, Gateway] = {}


def register(gateway: Gateway) -> None:
    """Make `gateway` available as a payment method under its name."""
    _REGISTRY[gateway.name] = gateway


def get(name: str) -> Gateway:
    """The gateway called `name`.

    Raises:
        InvalidInput: no such gateway (listing the known ones).
    """
    found = _REGISTRY.get(name)
    if found is None:
        raise InvalidInput(f"unknown payment method {name[:32]!r}",
                           details={"field": "method", "allowed": sorted(_REGISTRY)})
    return found


register(Sandbox())
register(Manual())
