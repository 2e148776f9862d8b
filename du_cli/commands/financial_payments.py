"""`du financial deposit|withdraw` and `du financial payments ...`."""

from __future__ import annotations
