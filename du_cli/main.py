"""The `du` command: the root app, its global options, and the outermost error boundary.

Command modules import the core inside their functions, so `du --help` loads neither the
database stack nor pandas or textual.
"""

from __future__ import annotations

import os
import sys

# pydantic otherwise scans every installed package's entry points for plugins at first use.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
from typing import Annotated, Optional

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from du_cli.commands import admin, auth, client, db, demo, financial, market, portfolio, risk, trading, tui, users
from du_cli.context import Globals
from du_cli.errors import EXIT_HELP, EXIT_USAGE, report

app = typer.Typer(
    name="du",
    help="Digital Utopia: a trading platform in the terminal.\n\n" + EXIT_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from du_core import __version__

        typer.echo(f"du {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[Optional[str], typer.Option("--profile", envvar="DU_PROFILE",
                                                   help="Login profile: several logins side by side.")] = None,
    database_url: Annotated[Optional[str], typer.Option(
        "--database-url", help="PostgreSQL URL (default: DU_DATABASE_URL, else the embedded server).")] = None,
    json_flag: Annotated[bool, typer.Option("--json", help="Print JSON for every command.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="FORMAT",
                                                  help="Output format: table, json or csv.")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Digital Utopia: a trading platform in the terminal."""
    ctx.obj = Globals(profile=profile, database_url=database_url, output="json" if json_flag else output)


app.add_typer(auth.app, name="auth")
app.add_typer(client.app, name="client")
app.add_typer(financial.app, name="financial")
app.add_typer(trading.app, name="trading")
app.add_typer(market.app, name="market")
app.add_typer(portfolio.app, name="portfolio")
app.add_typer(risk.app, name="risk")
app.add_typer(users.app, name="users")
app.add_typer(admin.app, name="admin")
app.add_typer(db.app, name="db")
demo.register(app)
tui.register(app)


def main() -> None:
    """Entry point of the `du` console script."""
    from du_cli.command import wants_json

    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else "")
        code = 0
    except UsageError as exc:
        if wants_json():
            report("usage_error", exc.format_message(), as_json=True)
        else:
            exc.show()
        code = EXIT_USAGE
    except typer.Abort:
        sys.stderr.write("aborted\n")
        code = 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
