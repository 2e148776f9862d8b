"""The login screen: email (or phone) and password, then the one-time code when the account uses MFA.

The app pushes it when there is no session. It asks the core to log in (`auth.login`, anonymously)
from a worker and is dismissed with the core's `LoginResult`; keeping the tokens is the app's job.
Every failure is the core's message under the form: the screen decides nothing about accounts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static

if TYPE_CHECKING:
    from du_core.auth.schemas import Login, LoginResult
    from du_tui.app import DuApp

CODE_HINT = "enter the 6-digit code of your authenticator app"


class LoginScreen(Screen["LoginResult | None"]):
    """Dismissed with the core's `LoginResult` once the user is in, or None when they leave."""

    CSS_PATH = "login.tcss"
    BINDINGS = [Binding("escape", "leave", "Quit")]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False

    @property
    def du(self) -> DuApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static(self.app.title, id="product")
            yield Input(placeholder="email or phone", id="identifier")
            yield Input(placeholder="password", password=True, id="password")
            yield Input(placeholder="one-time code", id="otp", max_length=6, restrict=r"[0-9]*")
            yield Button("Log in", id="submit", variant="primary")
            yield Static("", id="message")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#identifier", Input).focus()

    def action_leave(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def submit(self) -> None:
        """Send what was typed to the core, once: the form stays disabled until it answers."""
        from du_core.auth.schemas import Login
        from du_core.errors import DomainError
        from du_core.validation import parse

        if self.busy:
            return
        identifier = self.query_one("#identifier", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not identifier:
            self._say("enter your email or phone", focus="#identifier")
            return
        if not password:
            self._say("enter your password", focus="#password")
            return
        # Login takes one of email or phone; only an email has an @ in it
        who = {"email": identifier} if "@" in identifier else {"phone": identifier}
        otp = self.query_one("#otp", Input).value if self._asking_code else ""
        if otp and len(otp) != 6:
            self._say(CODE_HINT, focus="#otp")
            return
        try:
            request = parse(Login, **who, password=password, otp=otp or None)
        except DomainError as err:
            self._say(err.message, focus="#identifier")
            return
        self._set_busy(True)
        self._say("logging in…", error=False)
        self.log_in(request)

    @work(thread=True, exclusive=True, group="login", exit_on_error=False)
    def log_in(self, request: Login) -> None:
        from du_core.auth.service import login
        from du_core.errors import DomainError, MfaRequired

        try:
            result = self.du.call_anonymous(login, request)
        except MfaRequired:
            self.app.call_from_thread(self._ask_code)
        except DomainError as err:
            self.app.call_from_thread(self._failed, err.message)
        except Exception as exc:  # noqa: BLE001 - a bug is named, never shown as a traceback
            self.app.call_from_thread(self._failed, f"internal error ({type(exc).__name__})")
        else:
            self.app.call_from_thread(self._done, result)

    @property
    def _asking_code(self) -> bool:
        return self.query_one("#login-box").has_class("mfa")

    def _ask_code(self) -> None:
        self._set_busy(False)
        self.query_one("#login-box").add_class("mfa")
        self._say(CODE_HINT, error=False, focus="#otp")

    def _failed(self, message: str) -> None:
        self._set_busy(False)
        # a failed attempt starts over from the password: neither secret stays on screen
        self.query_one("#password", Input).clear()
        self.query_one("#otp", Input).clear()
        self._say(message, focus="#password")

    def _done(self, result: LoginResult) -> None:
        self.dismiss(result)  # not awaited: the app's callback switches to the trader screen

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.query_one("#login-box").disabled = busy

    def _say(self, text: str, *, error: bool = True, focus: str | None = None) -> None:
        message = self.query_one("#message", Static)
        message.update(text)
        message.set_class(error, "error")
        if focus is not None:
            self.query_one(focus).focus()
