"""`du db`: the embedded or external database and its migrations."""

from __future__ import annotations

import typer

from du_cli.command import command

app = typer.Typer(help="The database: status, start, stop and migrations.", no_args_is_help=True)


@command(app, "status")
def status():
    """Show which database is in use, whether it runs, and its schema version."""
    from du_core.db import status as db

    from du_cli.context import settings

    return db.status(settings())


@command(app, "start")
def start():
    """Start the embedded database (created on first start) and leave it running."""
    from du_core.db import status as db

    from du_cli.context import settings

    return db.start(settings())


@command(app, "stop")
def stop():
    """Stop the embedded database (the next command starts it again)."""
    from du_core.db import status as db

    from du_cli.context import settings

    return db.stop(settings())


@command(app, "upgrade")
def upgrade():
    """Apply every pending migration (a new database is upgraded on first use anyway)."""
    from du_core.db import status as db

    from du_cli.context import settings

    return db.upgrade(settings())
