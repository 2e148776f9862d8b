"""The database in use and its schema: what `du db status|start|stop|upgrade` act on.

These act on the local machine (its embedded server, its configured URL), not on platform data,
so they are not operations of the permission table: whoever can run `du` here can run them.
"""

from __future__ import annotations

from du_core.config import Settings
from du_core.errors import InvalidState
from du_core.validation import View


class DbStatus(View):
    mode: str  # embedded or external
    url: str  # without its password
    running: bool
    schema_version: str | None
    schema_head: str
    data_dir: str | None = None
    pid: int | None = None


def status(settings: Settings) -> DbStatus:
    """Report the database without starting anything.

    Raises:
        DatabaseUnavailable: an external database does not answer.
    """
    from du_core.db import embedded
    from du_core.db.engine import SCHEMA_HEAD, connect, create, describe, resolve_url, schema_version

    external = bool(settings.database_url)
    info = None if external else embedded.running_server(settings.pgdata)
    if not external and info is None:
        return DbStatus(mode="embedded", url="", running=False, schema_version=None, schema_head=SCHEMA_HEAD,
                        data_dir=str(settings.pgdata))
    url = resolve_url(settings, start_embedded=False)
    engine = create(url)
    try:
        with connect(engine) as conn:
            version = schema_version(conn)
    finally:
        engine.dispose()
    return DbStatus(mode="external" if external else "embedded", url=describe(url), running=True,
                    schema_version=version, schema_head=SCHEMA_HEAD,
                    data_dir=None if external else str(settings.pgdata), pid=info.pid if info else None)


def start(settings: Settings) -> DbStatus:
    """Start the embedded server (creating it on first use), bring its schema up to date."""
    from du_core.db.engine import get_engine

    if settings.database_url:
        raise InvalidState("an external database is configured; it is started by its own administrator")
    get_engine(settings)
    return status(settings)


def stop(settings: Settings) -> DbStatus:
    """Stop the embedded server; the next command that needs it starts it again."""
    from du_core.db import embedded
    from du_core.db.engine import dispose_all

    if settings.database_url:
        raise InvalidState("an external database is configured; du stops only the embedded one")
    dispose_all()
    embedded.stop(settings.pgdata)
    return status(settings)


def upgrade(settings: Settings) -> DbStatus:
    """Apply every pending migration."""
    from du_core.db.engine import create, resolve_url
    from du_core.db.engine import upgrade as run_upgrade

    engine = create(resolve_url(settings))
    try:
        run_upgrade(engine)
    finally:
        engine.dispose()
    return status(settings)
