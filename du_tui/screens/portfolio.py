"""The portfolio screen: balances, positions, allocation and risk figures of the logged-in user.

Every figure comes from a core operation, read in one worker thread on mount, on `r`, and every
few seconds while the screen is shown; the widgets only draw what they are given. A read that
fails keeps the last figures on screen and becomes a notification (once per distinct error while
refreshing by itself, so a lost session does not flood the screen).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header

from du_tui.widgets.allocation import Allocation
from du_tui.widgets.balances import Balances
from du_tui.widgets.portfolio_summary import PortfolioSummary
from du_tui.widgets.positions import Positions
from du_tui.widgets.risk_figures import RiskFigures

if TYPE_CHECKING:
    from du_core.financial.schemas import BalanceView
    from du_core.portfolio.schemas import HoldingsView, OverviewView
    from du_core.risk.schemas import MetricsView, ScoreView
    from du_core.trading.schemas import AccountView
    from du_tui.app import DuApp

# seconds between automatic refreshes: a full read takes a few tens of milliseconds on a small
# account (see `load_seconds`), so this costs little and keeps the figures near the market
REFRESH_EVERY = 5.0


@dataclass(frozen=True)
class Reading:
    """One consistent-enough read of everything the screen shows (each part is its own transaction)."""

    balance: BalanceView
    account: AccountView
    holdings: HoldingsView
    overview: OverviewView
    metrics: MetricsView
    score: ScoreView
    seconds: float  # how long the whole read took


class PortfolioScreen(Screen):
    """What the trader owns and what it risks."""

    CSS_PATH = "portfolio.tcss"
    # side by side from this width; below it the sections are stacked and the body scrolls
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (130, "-wide")]
    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0  # reads finished, good or bad (tests wait on it)
        self.load_seconds: float | None = None  # how long the last good read took
        self._busy = False
        self._again = False
        self._suspended = False
        self._last_error: tuple[str, str] | None = None
        self._timer: Timer | None = None

    @property
    def du(self) -> DuApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield PortfolioSummary(id="summary")
        with VerticalScroll(id="body"):
            yield Balances(id="balances")
            yield Positions(id="positions")
            yield Allocation(id="allocation")
            yield RiskFigures(id="risk")
        yield Footer()

    def on_mount(self) -> None:
        self._timer = self.set_interval(REFRESH_EVERY, self._tick)
        self.refresh_figures(manual=False)

    def on_screen_suspend(self) -> None:
        self._suspended = True
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        if self._suspended:  # back from another screen: the figures may be old
            self._suspended = False
            self.refresh_figures(manual=False)
            if self._timer is not None:
                self._timer.reset()  # resumes it, counting from now rather than firing the missed tick

    def action_refresh(self) -> None:
        self.refresh_figures(manual=True)

    def _tick(self) -> None:
        if not self._busy:  # a read still running is skipped, not queued behind
            self.refresh_figures(manual=False)

    def refresh_figures(self, *, manual: bool) -> None:
        """Read everything again; asked for while a read runs, one more follows it."""
        if self._busy:
            self._again = self._again or manual
            return
        self._busy = True
        self.load(manual)

    # -- data in ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="portfolio", exit_on_error=False)
    def load(self, manual: bool) -> None:
        self.du.deliver(self._read, self._loaded, failed=partial(self._failed, manual=manual))

    def _read(self) -> Reading:
        """Everything the screen shows, from the core (blocking)."""
        from du_core.financial.service import balance
        from du_core.portfolio import service as portfolio
        from du_core.risk import service as risk
        from du_core.trading import info

        started = time.perf_counter()
        return Reading(balance=self.du.call(balance), account=self.du.call(info.account),
                       holdings=self.du.call(portfolio.holdings), overview=self.du.call(portfolio.overview),
                       metrics=self.du.call(risk.metrics), score=self.du.call(risk.scoring),
                       seconds=time.perf_counter() - started)  # evaluated last: after every call

    def _loaded(self, reading: Reading) -> None:
        self.load_seconds = reading.seconds
        self._last_error = None
        self.query_one(Balances).balances = reading.balance.balances
        self.query_one(Positions).positions = reading.account.positions
        self.query_one(Allocation).holdings = reading.holdings
        risk = self.query_one(RiskFigures)
        risk.score = reading.score
        risk.metrics = reading.metrics
        summary = self.query_one(PortfolioSummary)
        summary.overview = reading.overview
        summary.problem = ""
        summary.updated = datetime.now().strftime("%H:%M:%S")
        self._done()

    def _failed(self, exc: BaseException, manual: bool) -> None:
        from du_core.errors import DomainError

        key = (type(exc).__name__, exc.message if isinstance(exc, DomainError) else "")
        if manual or key != self._last_error:
            self.du.report(exc)
        self._last_error = key
        self.query_one(PortfolioSummary).problem = key[1] or f"internal error ({key[0]})"
        self._done()

    def _done(self) -> None:
        self.loads += 1
        self._busy = False
        if self._again:
            self._again = False
            self.refresh_figures(manual=True)
