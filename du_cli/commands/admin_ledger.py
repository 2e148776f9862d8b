"""`du admin ledger ...` and `du admin assets ...`: the books."""

from __future__ import annotations
