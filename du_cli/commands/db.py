"""`du db`: the embedded or external database and its migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from du_cli.command import command

if TYPE_CHECKING:
    from du_core.db.status import DbStatus

app = typer.Typer(help="The database: status, start, stop and migrations.", no_args_is_help=True)


def _status(start: bool) -> DbStatus:
    from du_core.db import embedded
    from du_core.db.engine import SCHEMA_HEAD, check_connection_error, create, describe, resolve_url
    from du_core.db.status import DbStatus

    from du_cli.context import settings

    s = settings()
    if not s.database_url:
        info = embedded.start(s.pgdata) if start else embedded.running_server(s.pgdata)
        if info is None:
            return DbStatus(mode="embedded", url="", running=False, schema_version=None,
                            schema_head=SCHEMA_HEAD, data_dir=str(s.pgdata))
    url = resolve_url(s, start_embedded=start)
    from sqlalchemy import text

    eng = create(url)
    try:
        with eng.connect() as conn:
            has = conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar()
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar() if has else None
    except Exception as exc:
        err = check_connection_error(exc, url)
        if err is not None:
            raise err from None
        raise
    finally:
        eng.dispose()
    info = None if s.database_url else embedded.running_server(s.pgdata)
    return DbStatus(mode="external" if s.database_url else "embedded", url=describe(url), running=True,
                    schema_version=version, schema_head=SCHEMA_HEAD,
                    data_dir=None if s.database_url else str(s.pgdata), pid=info.pid if info else None)


@command(app, "status")
def status() -> DbStatus:
    """Show which database is in use, whether it runs, and its schema version."""
    return _status(start=False)


@command(app, "start")
def start() -> DbStatus:
    """Start the embedded database (created on first start) and leave it running."""
    from du_core.errors import InvalidState

    from du_cli.context import settings

    if settings().database_url:
        raise InvalidState("an external database is configured; it is started by its own administrator")
    from du_cli.context import engine

    engine()  # starts the server and upgrades the schema
    return _status(start=False)


@command(app, "stop")
def stop() -> DbStatus:
    """Stop the embedded database (the next command starts it again)."""
    from du_core.db import embedded
    from du_core.errors import InvalidState

    from du_cli.context import settings

    s = settings()
    if s.database_url:
        raise InvalidState("an external database is configured; du stops only the embedded one")
    embedded.stop(s.pgdata)
    return _status(start=False)


@command(app, "upgrade")
def upgrade() -> DbStatus:
    """Apply every pending migration (new databases are upgraded on first use anyway)."""
    from du_core.db.engine import create, resolve_url
    from du_core.db.engine import upgrade as run_upgrade

    from du_cli.context import settings

    eng = create(resolve_url(settings()))
    try:
        run_upgrade(eng)
    finally:
        eng.dispose()
    return _status(start=False)
