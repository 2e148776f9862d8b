"""The workstation's App: what it is given to reach the core, and how it calls it.

`du tui` builds it with an engine and a token provider; tests build it the same way. Every
core call goes through `call`, from worker threads only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import App
from textual.binding import Binding

from du_tui.screens.trader import TraderScreen

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from du_core.actor import RequestContext

T = TypeVar("T")
# Given None, the current access token; given an expired one, a renewed one.
TokenProvider = Callable[[str | None], str]


class DuApp(App[None]):
    """Digital Utopia in the terminal."""

    TITLE = "Digital Utopia"
    CSS_PATH = "app.tcss"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", show=False)]

    def __init__(self, engine: Engine, token_provider: TokenProvider, *, symbol: str = "BTC-USD",
                 context: RequestContext | None = None, live: bool = True) -> None:
        super().__init__()
        self.engine = engine
        self.token_provider = token_provider
        self.context = context
        self.symbol = symbol
        self.live = live

    @property
    def database_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def on_mount(self) -> None:
        self.push_screen(TraderScreen(self.symbol))

    def call(self, op: Callable[..., T], request: Any = None) -> T:
        """Run a core operation as the logged-in user, renewing an expired token once (blocking)."""
        from du_core.db.runner import run
        from du_core.errors import SessionExpired

        token = self.token_provider(None)
        try:
            return run(self.engine, op, request, token=token, context=self.context)
        except SessionExpired:
            return run(self.engine, op, request, token=self.token_provider(token), context=self.context)

    def snapshot(self, symbol: str) -> Any:
        """The book of `symbol` as the trading.orderbook operation gives it (blocking)."""
        from du_core.trading import info
        from du_core.trading.schemas import BookRequest

        return self.call(info.orderbook, BookRequest(symbol=symbol, depth=50))

    def report(self, exc: BaseException) -> None:
        """Show an error as a notification: the core's message, or the kind of a bug."""
        from du_core.errors import DomainError

        if isinstance(exc, DomainError):
            self.notify(exc.message, title=exc.code, severity="error")
        else:
            self.notify(f"internal error ({type(exc).__name__})", severity="error")

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()
