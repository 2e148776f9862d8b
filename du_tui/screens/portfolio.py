"""The portfolio screen: balances, positions, allocation and risk figures of the logged-in user."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class PortfolioScreen(Screen):
    """What the trader owns and what it risks."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("portfolio", id="portfolio-body")
        yield Footer()
