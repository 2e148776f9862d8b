"""Alembic environment: migrations run on the connection the platform hands over."""

from __future__ import annotations

from alembic import context

from du_core.db.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the platform always passes its connection
    raise RuntimeError("run migrations through `du db upgrade`")

context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
