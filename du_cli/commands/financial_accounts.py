"""`du financial balance|transactions|reports|exchange|rates|assets`."""

from __future__ import annotations
