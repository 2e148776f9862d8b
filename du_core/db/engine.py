"""Engines for the configured database, upgraded to the current schema on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from du_core.config import Settings
from du_core.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

# The newest migration in du_core/db/migrations/versions; a test keeps the two in step. Comparing
# against it lets every command check the schema without importing alembic.
SCHEMA_HEAD = "0007"
_UPGRADE_LOCK = 72_057_594_037_927_937  # advisory lock id held while migrating


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver whatever spelling of a PostgreSQL URL was given."""
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is described by its scheme only
        return url.split("://", 1)[0] + "://…"


def resolve_url(settings: Settings, *, start_embedded: bool = True) -> str:
    """Return the database URL, starting the embedded server when no URL is configured."""
    if settings.database_url:
        return normalise_url(settings.database_url)
    from du_core.db import embedded

    info = embedded.running_server(settings.pgdata)
    if info is None:
        if not start_embedded:
            raise DatabaseUnavailable("the embedded database is stopped: du db start")
        try:
            info = embedded.start(settings.pgdata)
        except Exception as exc:  # noqa: BLE001 - any failure to start is one message to the user
            raise DatabaseUnavailable(
                f"could not start the embedded database in {settings.pgdata}: {type(exc).__name__}"
            ) from exc
    return info.url()


def create(url: str) -> Engine:
    """Create an engine; a connection that cannot be made fails fast with DatabaseUnavailable."""
    from sqlalchemy import create_engine

    return create_engine(
        url,
        connect_args={"connect_timeout": 5, "application_name": "digital-utopia"},
        pool_pre_ping=False,
        pool_size=5,
        max_overflow=10,
    )


def check_connection_error(exc: BaseException, url: str) -> DatabaseUnavailable | None:
    """Translate a driver's connection failure into DatabaseUnavailable, or None."""
    import psycopg
    from sqlalchemy.exc import InterfaceError, OperationalError

    if isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)):
        orig = getattr(exc, "orig", exc)
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate is None or sqlstate.startswith("08") or sqlstate.startswith("57P"):
            reason = str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else "no answer"
            return DatabaseUnavailable(f"database unreachable at {describe(url)}: {reason}")
    return None


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection whose failure to connect raises DatabaseUnavailable instead of a driver error."""
    try:
        conn = engine.connect()
    except Exception as exc:
        translated = check_connection_error(exc, engine.url.render_as_string(hide_password=False))
        if translated is not None:
            raise translated from None
        raise
    with conn:
        yield conn


def schema_version(conn: Connection) -> str | None:
    """The migration the database is at, or None for an empty database."""
    from sqlalchemy import text

    if not conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar():
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> str | None:
    """Upgrade the database to SCHEMA_HEAD if it is behind; return the version found before."""
    with connect(engine) as conn:
        current = schema_version(conn)
    if current != SCHEMA_HEAD:
        upgrade(engine)
    return current


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations, one process at a time."""
    from sqlalchemy import text

    from du_core.db import migrate

    with connect(engine) as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _UPGRADE_LOCK})
        try:
            migrate.upgrade(conn, revision)
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _UPGRADE_LOCK})
            conn.commit()


_ENGINES: dict[str, Engine] = {}


def get_engine(settings: Settings) -> Engine:
    """The process-wide engine of `settings`, with its schema current."""
    url = resolve_url(settings)
    engine = _ENGINES.get(url)
    if engine is None:
        engine = create(url)
        ensure_schema(engine)
        _ENGINES[url] = engine
    return engine


def dispose_all() -> None:
    """Close every pooled connection (before a database is dropped, or a fork)."""
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()
