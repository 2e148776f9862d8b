"""What `du db status` reports about the database in use."""

from __future__ import annotations

from du_core.validation import View


class DbStatus(View):
    mode: str  # embedded or external
    url: str  # without its password
    running: bool
    schema_version: str | None
    schema_head: str
    data_dir: str | None = None
    pid: int | None = None
