"""The login screen: email (or phone) and password, then the one-time code when the account uses MFA."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class LoginScreen(Screen[Any]):
    """Dismissed with the core's `LoginResult` once the user is in."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("log in", id="login-body")
        yield Footer()
