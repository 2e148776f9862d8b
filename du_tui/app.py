"""The workstation's App: what it is given to reach the core, who is logged in, and which screens exist.

`du tui` builds it with an engine and a token provider; tests build it the same way. Every core
call goes through `call`, from worker threads only; `deliver` hands a worker's result, or its
failure, back to the main thread. The screens are Textual modes: `trader` and `portfolio` for
everyone, `admin` only when the logged-in user is an admin. A standard user's app never registers
the admin mode, so no key, palette command or screen can open it (and the core refuses its
operations anyway).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from textual.screen import Screen

    from du_core.actor import RequestContext
    from du_core.auth.schemas import LoginResult, WhoAmI
    from du_tui.feed import MarketFeed

T = TypeVar("T")
# Given None, the current access token; given an expired one, a renewed one. Raises AuthRequired
# when there is no session (the app then shows the login screen).
TokenProvider = Callable[[str | None], str]
# Keeps the tokens of a login made in the app (the CLI's credential store).
LoginStore = Callable[["LoginResult"], None]

# mode: (key, title) in the order the footer and the palette show them
SCREENS = {"trader": ("f2", "Trade"), "portfolio": ("f3", "Portfolio"), "admin": ("f4", "Admin")}


class DuApp(App[None]):
    """Digital Utopia in the terminal."""

    TITLE = "Digital Utopia"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False),
        *(Binding(key, f"open('{mode}')", title, show=True, priority=True) for mode, (key, title) in SCREENS.items()),
    ]

    def __init__(self, engine: Engine, token_provider: TokenProvider, *, symbol: str = "BTC-USD",
                 context: RequestContext | None = None, live: bool = True, on_login: LoginStore | None = None,
                 feed_url: str | None = None, preferences: Path | None = None) -> None:
        super().__init__()
        self.preferences = preferences
        self.engine = engine
        self.token_provider = token_provider
        self.on_login = on_login
        self.context = context
        self.symbol = symbol
        self.live = live
        self.feed_url = feed_url
        self.user: WhoAmI | None = None

    @property
    def database_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.role == "admin"

    # -- who is this -----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._load_preferences()
        self.theme_changed_signal.subscribe(self, lambda theme: self._save_preferences())
        self.identify()

    def _load_preferences(self) -> None:
        """The theme chosen last time (a missing or unreadable file means the default)."""
        if self.preferences is None:
            return
        try:
            theme = json.loads(self.preferences.read_text(encoding="utf-8")).get("theme")
        except (OSError, ValueError, AttributeError):
            return
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme

    def _save_preferences(self) -> None:
        if self.preferences is None:
            return
        try:
            self.preferences.parent.mkdir(parents=True, exist_ok=True)
            self.preferences.write_text(json.dumps({"theme": self.theme}) + "\n", encoding="utf-8")
        except OSError as exc:
            self.notify(f"could not keep the theme: {exc.strerror}", severity="warning")

    @work(thread=True, exclusive=True, group="identify", exit_on_error=False)
    def identify(self) -> None:
        """Find out who the stored session belongs to; without one, ask to log in."""
        from du_core.auth.service import whoami
        from du_core.errors import AuthRequired

        try:
            user = self.call(whoami)
        except AuthRequired:
            self.call_from_thread(self.ask_login)
            return
        except Exception as exc:  # noqa: BLE001 - shown, and the app stays up to say so
            self.call_from_thread(self.report, exc)
            return
        self.call_from_thread(self.enter, user)

    def ask_login(self) -> None:
        from du_tui.screens.login import LoginScreen

        self.push_screen(LoginScreen(), self._logged_in)

    def session_ended(self) -> None:
        """Ask to log in again, once however many reads fail meanwhile; the screens stay under it."""
        from du_tui.screens.login import LoginScreen

        if any(isinstance(s, LoginScreen) for s in self.screen_stack):
            return
        self.notify("your session has ended: log in again", title="session ended", severity="warning")
        self.push_screen(LoginScreen(), self._logged_in)

    def _logged_in(self, result: LoginResult | None) -> None:
        """After the login screen: the first login enters the app; a later one resumes it."""
        if result is None:
            self.exit()
            return
        if self.on_login is not None:
            self.on_login(result)
        if self.user is None:
            self.enter(result.user)
        elif result.user.id != self.user.id:
            # the screens hold the first user's figures: start again rather than mix two accounts
            self.exit(message=f"logged in as {result.user.email}: run du tui again to open their workstation")
        else:
            self.user = result.user
            refresh = getattr(self.screen, "action_refresh", None) or getattr(self.screen, "load", None)
            if callable(refresh):
                refresh()

    def enter(self, user: WhoAmI) -> None:
        """Register the screens this user may open and show the trader screen."""
        from du_tui.screens.trader import TraderScreen

        self.user = user
        self.sub_title = f"{user.email} · {user.role}"
        screens: dict[str, Callable[[], Screen[Any]]] = {
            "trader": lambda: TraderScreen(self.symbol), "portfolio": _portfolio_screen}
        if self.is_admin:
            screens["admin"] = _admin_screen
        for mode, factory in screens.items():
            if mode not in self._modes:
                self.add_mode(mode, factory)
        self.switch_mode("trader")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            # hidden, not merely disabled: a screen this user may not open is never offered
            return self.user is not None and parameters[0] in self._modes
        return True

    def action_open(self, mode: str) -> None:
        if mode in self._modes and self.current_mode != mode:
            self.switch_mode(mode)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, (_key, title) in SCREENS.items():
            if self.user is not None and mode in self._modes:
                yield SystemCommand(f"Open {title}", f"Switch to the {title.lower()} screen",
                                    lambda mode=mode: self.action_open(mode))

    # -- calling the core ------------------------------------------------------------------------

    def call(self, op: Callable[..., T], request: Any = None) -> T:
        """Run a core operation as the logged-in user, renewing an expired token once (blocking)."""
        from du_core.db.runner import run
        from du_core.errors import SessionExpired

        token = self.token_provider(None)
        try:
            return run(self.engine, op, request, token=token, context=self.context)
        except SessionExpired:
            return run(self.engine, op, request, token=self.token_provider(token), context=self.context)

    def call_anonymous(self, op: Callable[..., T], request: Any = None) -> T:
        """Run a core operation without a session (logging in), blocking."""
        from du_core.db.runner import run

        return run(self.engine, op, request, context=self.context)

    def deliver(self, read: Callable[[], T], then: Callable[[T], object], *,
                refused: Callable[[str], object] | None = None,
                failed: Callable[[BaseException], object] | None = None) -> None:
        """From a worker thread: run `read` and hand its result to `then` on the main thread.

        `read` does the blocking core calls, and builds their requests too, so that input the core
        refuses is caught like any other failure. When it raises, the core's refusal (a DomainError)
        goes to `refused` as its message if one is given (a form shows it inline); anything else
        goes to `failed`, by default `report` (a notification). Either way `then` is not called.
        """
        from du_core.errors import DomainError

        try:
            result = read()
        except Exception as exc:  # noqa: BLE001 - a failed call is shown, never a crash
            if refused is not None and isinstance(exc, DomainError):
                self.call_from_thread(refused, exc.message)
            else:
                self.call_from_thread(failed or self.report, exc)
            return
        self.call_from_thread(then, result)

    def snapshot(self, symbol: str) -> Any:
        """The book of `symbol` as the trading.orderbook operation gives it (blocking)."""
        from du_core.trading import info
        from du_core.trading.schemas import BookRequest

        return self.call(info.orderbook, BookRequest(symbol=symbol, depth=50))

    def market_feed(self, symbol: str, *, on_trades: Callable[[str, list[dict[str, Any]]], None],
                    on_status: Callable[[str], None]) -> MarketFeed:
        """The live feed of `symbol` and every instrument's trades (blocking: call it from a worker).

        From `du market serve` when the app was given a feed URL, else from the database's
        notifications.
        """
        from du_tui.feed import MarketFeed, WebSocketFeed

        if self.feed_url:
            from du_core.trading import info

            watch = [p.symbol for p in self.call(info.pairs)]  # the server sends trades of subscribed symbols only
            return WebSocketFeed(self.feed_url, symbol, on_trades=on_trades, on_status=on_status, watch=watch)
        return MarketFeed(self.database_url, symbol, snapshot=self.snapshot, on_trades=on_trades,
                          on_status=on_status)

    def report(self, exc: BaseException) -> None:
        """Show an error as a notification: the core's message, or the kind of a bug.

        A session that ended while the app is open (logged out elsewhere, revoked) asks to log in
        again instead, when the app can keep a new session (`on_login`).
        """
        from du_core.errors import AuthRequired, DomainError

        if isinstance(exc, AuthRequired) and self.user is not None and self.on_login is not None:
            self.session_ended()
        elif isinstance(exc, DomainError):
            self.notify(exc.message, title=exc.code, severity="error")
        else:
            self.notify(f"internal error ({type(exc).__name__})", severity="error")

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()


# The other screens are imported when first opened: the trader screen comes up sooner without them.
def _portfolio_screen() -> Screen[Any]:
    from du_tui.screens.portfolio import PortfolioScreen

    return PortfolioScreen()


def _admin_screen() -> Screen[Any]:
    from du_tui.screens.admin import AdminScreen

    return AdminScreen()
