"""`du admin fx ...`: exchange rates."""

from __future__ import annotations
