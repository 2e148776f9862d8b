"""`du tui`: the workstation, on the current profile's session.

Textual and du_tui are imported inside the command, so `du --help` and every other command load
neither.
"""

from __future__ import annotations

from typing import Annotated

import typer

from du_cli.command import command


def register(app: typer.Typer) -> None:
    """Add `du tui` to the root app."""
    command(app, "tui", title="Workstation")(tui)


def tui(
    symbol: Annotated[str, typer.Option("--symbol", help="The instrument to open on.")] = "BTC-USD",
) -> None:
    """The trading workstation: live book, trades, order entry and open orders of the logged-in user.

    Uses the session of the current profile (du auth login first).
    """
    from du_core.errors import AuthRequired, InvalidInput

    from du_cli import credentials
    from du_cli.context import engine, refresh_stored, request_context, settings

    from typer._click.globals import get_current_context

    profile = settings()
    if credentials.load(profile) is None:
        raise AuthRequired("log in first: du auth login")
    ctx = get_current_context()

    def token(expired: str | None) -> str:  # called from the TUI's worker threads
        if expired is not None:
            with ctx:  # refresh_stored reads the profile from the command's context
                return refresh_stored(expired)
        stored = credentials.load(profile)
        if stored is None:
            raise AuthRequired("log in first: du auth login")
        return stored.access_token

    from du_core.trading.schemas import clean_symbol
    from du_tui.app import DuApp

    try:
        symbol = clean_symbol(symbol)
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    DuApp(engine(), token, symbol=symbol, context=request_context()).run()
