"""The admin console: users, the platform dashboard, settings and the audit trail (admins only)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class AdminScreen(Screen):
    """The platform's daily operations."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("admin console", id="admin-body")
        yield Footer()
