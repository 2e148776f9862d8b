"""The order state machine: every change of an order's status goes through `transition()`.

    (new) ─┬─> pending_trigger ──> (triggered: as new)
           ├─> open ──────────┬─> partially_filled ─┬─> filled
           │                  ├─> filled            └─> cancelled
           │                  └─> cancelled
           ├─> partially_filled, filled  (matched on arrival)
           └─> cancelled                 (nothing left to rest: IOC, FOK, post-only, self-trade, band)
"""

from __future__ import annotations

from du_core.errors import InvalidState

NEW = None
ALLOWED: frozenset[tuple[str | None, str]] = frozenset({
    (NEW, "pending_trigger"), (NEW, "open"), (NEW, "partially_filled"), (NEW, "filled"), (NEW, "cancelled"),
    ("pending_trigger", "open"), ("pending_trigger", "partially_filled"), ("pending_trigger", "filled"),
    ("pending_trigger", "cancelled"), ("pending_trigger", "pending_trigger"),
    ("open", "open"), ("open", "partially_filled"), ("open", "filled"), ("open", "cancelled"),
    ("partially_filled", "partially_filled"), ("partially_filled", "filled"), ("partially_filled", "cancelled"),
})
FINISHED = frozenset({"filled", "cancelled"})
LIVE = ("pending_trigger", "open", "partially_filled")


def transition(current: str | None, new: str) -> str:
    """Return `new` if an order may go from `current` (None: not yet stored) to it.

    Raises:
        InvalidState: the change is not in the table (a finished order never changes again).
    """
    if (current, new) not in ALLOWED:
        raise InvalidState(f"an order that is {current or 'new'} cannot become {new}",
                           details={"status": current, "to": new})
    return new


def after_fill(current: str | None, quantity, filled) -> str:  # type: ignore[no-untyped-def]
    """The status of a resting or arriving order once `filled` of its `quantity` has traded."""
    return transition(current, "filled" if filled >= quantity else ("partially_filled" if filled > 0 else "open"))
RESTING = ("open", "partially_filled")
