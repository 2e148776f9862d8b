"""`du tui`: the workstation, on the current profile's session or after logging in inside it.

Textual and du_tui are imported inside the command, so `du --help` and every other command load
neither. `session_hooks` is what the command hands the app to reach the profile's credential
store; it is a function of its own so that tests build the app exactly as the command does.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Annotated

import typer

from du_cli.command import command

if TYPE_CHECKING:
    from du_core.auth.schemas import LoginResult
    from du_tui.app import LoginStore, TokenProvider


def register(app: typer.Typer) -> None:
    """Add `du tui` to the root app."""
    command(app, "tui", title="Workstation")(tui)


def tui(
    symbol: Annotated[str, typer.Option("--symbol", help="The instrument to open on.")] = "BTC-USD",
    insecure_storage: Annotated[bool, typer.Option(
        "--insecure-storage", help="Keep a session started here in a 0600 file instead of the OS keyring.")] = False,
    feed: Annotated[str | None, typer.Option(
        "--feed", metavar="URL",
        help="Take live market data from a du market serve server (ws://...) instead of the database.")] = None,
) -> None:
    """The trading workstation: live market, order entry, portfolio and, for admins, the admin console.

    Uses the current profile's session; without one it opens on a login screen and keeps the new one.
    F2 trade, F3 portfolio, F4 admin (admins), ctrl+p every command, ? the keys of the screen.
    """
    from du_core.errors import InvalidInput
    from du_core.trading.schemas import clean_symbol

    from du_cli import credentials
    from du_cli.context import engine, request_context, settings

    try:
        symbol = clean_symbol(symbol)
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    if feed is not None and not feed.startswith(("ws://", "wss://")):
        raise InvalidInput(f"--feed takes a WebSocket address like ws://127.0.0.1:8765, not {feed!r}",
                           details={"feed": feed})
    if credentials.load(settings()) is None:
        # fail now rather than after the user has typed a password and a code
        credentials.ensure_storable(settings(), insecure_storage=insecure_storage)
    token, keep = session_hooks(insecure_storage=insecure_storage)

    from du_tui.app import DuApp

    DuApp(engine(), token, symbol=symbol, context=request_context(), on_login=keep, feed_url=feed,
          preferences=settings().config_dir / "tui.json").run()


def session_hooks(*, insecure_storage: bool = False) -> tuple[TokenProvider, LoginStore]:
    """The app's token provider and login store, on the current profile's stored session.

    The provider raises AuthRequired while the profile has no session (the app then shows its
    login screen); the store keeps a login's tokens as `du auth login` does. Call it inside the
    command: the profile is read from the command's context, which the provider (on the app's
    worker threads) and the store (on its main thread) re-enter for the CLI's helpers.
    """
    from du_core.errors import AuthRequired

    from du_cli import credentials
    from du_cli.context import refresh_stored, settings, store_tokens

    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    profile = settings()

    def within() -> AbstractContextManager[object]:
        return ctx if ctx is not None else nullcontext()

    def token(expired: str | None) -> str:
        if expired is not None:
            with within():  # refresh_stored reads the profile from the command's context
                return refresh_stored(expired)
        stored = credentials.load(profile)
        if stored is None:
            raise AuthRequired("you are not logged in")
        return stored.access_token

    def keep(result: LoginResult) -> None:
        with within():
            store_tokens(result.tokens, insecure_storage=insecure_storage)

    return token, keep
