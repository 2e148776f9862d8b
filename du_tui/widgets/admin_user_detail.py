"""One account in full in the admin console, with its role and KYC level to change.

The screen sets `detail` (the core's `UserDetail`); choosing another role or level in the selects
posts `RoleRequested` or `KycRequested` up. The selects always come back to what the core says
(`detail`), so a refused or cancelled change never stays on screen as if it were made.
"""

from __future__ import annotations

import uuid
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Label, Select, Static

from du_core.actor import Role

KYC_LEVELS = range(4)  # the levels admin.users_update accepts


class AdminUserDetail(VerticalScroll):
    """A `UserDetail` with a role select (`r`) and a KYC level select (`k`); escape closes it."""

    BINDINGS = [
        Binding("r", "pick('#detail-role')", "Role"),
        Binding("k", "pick('#detail-kyc')", "KYC level"),
        Binding("escape", "close", "Close"),
    ]

    class RoleRequested(Message):
        def __init__(self, user_id: uuid.UUID, email: str, role: str) -> None:
            super().__init__()
            self.user_id, self.email, self.role = user_id, email, role

    class KycRequested(Message):
        def __init__(self, user_id: uuid.UUID, level: int) -> None:
            super().__init__()
            self.user_id, self.level = user_id, level

    class Closed(Message):
        """The admin is done with this account."""

    detail: reactive[Any] = reactive(None, always_update=True)
    error: reactive[str] = reactive("")

    def compose(self) -> ComposeResult:
        with Horizontal(classes="detail-field"):
            yield Label("role")
            yield Select([(r.value, r.value) for r in Role], allow_blank=False, compact=True, id="detail-role")
        with Horizontal(classes="detail-field"):
            yield Label("KYC")
            yield Select([(f"level {n}", n) for n in KYC_LEVELS], allow_blank=False, compact=True, id="detail-kyc")
        yield Static("", id="detail-message")
        yield Static("", id="detail-body")

    def watch_detail(self, detail: Any) -> None:
        if detail is None or not self.is_mounted:
            return
        self.border_title = detail.email
        self.query_one("#detail-body", Static).update(describe(detail))
        self.query_one("#detail-role", Select).value = detail.role
        self.query_one("#detail-kyc", Select).value = detail.kyc_level

    def watch_error(self, error: str) -> None:
        box = self.query_one("#detail-message", Static)
        box.update(error)
        box.set_class(bool(error), "error")

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        d = self.detail
        if d is None or event.value is Select.NULL:
            return
        # a select set from `detail` posts Changed too: only a value other than the core's is a request
        if event.select.id == "detail-role" and event.value != d.role:
            self.post_message(self.RoleRequested(d.id, d.email, str(event.value)))
        elif event.select.id == "detail-kyc" and event.value != d.kyc_level:
            self.post_message(self.KycRequested(d.id, int(event.value)))  # type: ignore[call-overload]

    def action_pick(self, selector: str) -> None:
        self.query_one(selector, Select).focus()

    def action_close(self) -> None:
        self.post_message(self.Closed())


def _when(value: Any) -> str:
    return "never" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _yes(flag: bool) -> Text:
    return Text("yes", style="green") if flag else Text("no", style="yellow")


def describe(d: Any) -> Text:
    """The account's facts, one per line (names and notes as plain text: no markup); the role and
    KYC level are in the selects below."""
    text = Text()

    def line(label: str, *parts: str | Text) -> None:
        text.append(f"{label:<11}", style="bold")
        for part in parts:
            text.append(part)
        text.append("\n")

    line("name", d.full_name or "-")
    line("email", d.email)
    line("phone", d.phone)
    line("status", Text(d.status, style="green" if d.status == "active" else "bold red"))
    if d.permissions:
        line("also may", ", ".join(d.permissions))
    line("verified", "email ", _yes(d.email_verified), " · phone ", _yes(d.phone_verified),
         " · MFA ", _yes(d.mfa_enabled))
    line("sessions", str(d.active_sessions))
    line("last login", _when(d.last_login_at))
    line("joined", _when(d.created_at))
    text.append(f"{'notes':<11}", style="bold").append(d.notes or "-")
    return text
