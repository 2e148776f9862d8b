"""The admin console: the platform dashboard, accounts, settings and the audit trail (admins only).

The app registers this screen only for admins, so nobody else can reach it; the core refuses its
operations to anyone else all the same. The screen is the widgets' parent: it feeds them the
core's views (attributes down), answers their requests (messages up), asks before a change that
stops people trading or changes what they may do, and runs every core call in a worker thread.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from du_tui.widgets.admin_audit import AdminAudit
from du_tui.widgets.admin_confirm import AdminConfirm
from du_tui.widgets.admin_dashboard import AdminDashboard
from du_tui.widgets.admin_settings import AdminSettings
from du_tui.widgets.admin_user_detail import AdminUserDetail
from du_tui.widgets.admin_users import AdminUsers

if TYPE_CHECKING:
    from du_tui.app import DuApp

DASHBOARD_EVERY = 5.0  # seconds between dashboard reads while it is on screen
AUDIT_EVERY = 2.0  # seconds between reads of the audit tail while it is on screen
TAIL = 50  # newest audit records read on each poll
TABS = ("dashboard", "users", "settings", "audit")


class AdminScreen(Screen):
    """The platform's daily operations, one tab each; 1-4 switch tabs."""

    CSS_PATH = "admin.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        *(Binding(str(n), f"tab('{tab}')", tab.title(), show=False) for n, tab in enumerate(TABS, start=1)),
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
    ]

    @property
    def du(self) -> DuApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="dashboard", id="admin-tabs"):
            with TabPane("1 Dashboard", id="dashboard"):
                yield AdminDashboard(id="admin-dashboard")
            with TabPane("2 Users", id="users"):
                with Horizontal(id="users-body"):
                    yield AdminUsers(id="admin-users")
                    yield AdminUserDetail(id="admin-user-detail")
            with TabPane("3 Settings", id="settings"):
                yield AdminSettings(id="admin-settings")
            with TabPane("4 Audit", id="audit"):
                yield AdminAudit(id="admin-audit")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(AdminDashboard).focus_table()
        self.load_dashboard()
        self.set_interval(DASHBOARD_EVERY, lambda: self._poll("dashboard", self.load_dashboard))
        self.set_interval(AUDIT_EVERY, lambda: self._poll("audit", self.load_audit))

    @property
    def tab(self) -> str:
        return self.query_one(TabbedContent).active

    def _poll(self, tab: str, load: Any) -> None:
        # only what the admin is looking at is re-read: a hidden tab costs the database nothing
        if self.is_current and self.tab == tab:
            load()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id
        if tab == "dashboard":
            self.query_one(AdminDashboard).focus_table()
            self.load_dashboard()
        elif tab == "users":
            users = self.query_one(AdminUsers)
            users.focus_table()
            self.load_users(dict(users.request))
        elif tab == "settings":
            self.query_one(AdminSettings).focus_table()
            self.load_settings()
        elif tab == "audit":
            self.query_one(AdminAudit).focus_table()
            self.load_audit()

    def _give(self, widget: type[Any], name: str, value: Any) -> None:
        """Set an attribute of the child widget of type `widget` (on the main thread)."""
        setattr(self.query_one(widget), name, value)

    def _ask(self, question: str, then: Any, *, yes: str = "Yes") -> None:
        """Run `then()` only if the admin answers yes."""
        self.app.push_screen(AdminConfirm(question, yes=yes), lambda ok: then() if ok else None)

    # -- dashboard -------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="dashboard", exit_on_error=False)
    def load_dashboard(self) -> None:
        from du_core.admin.dashboard import dashboard

        self.du.deliver(lambda: self.du.call(dashboard), partial(self._give, AdminDashboard, "view"))

    def on_admin_dashboard_refresh_requested(self, message: AdminDashboard.RefreshRequested) -> None:
        self.load_dashboard()

    def on_admin_dashboard_status_requested(self, message: AdminDashboard.StatusRequested) -> None:
        symbol, status = message.symbol, message.status
        if status == "halted":
            self._ask(f"Halt trading in {symbol}? New orders on it are refused until it resumes "
                      "(cancels are still accepted).", lambda: self.set_status(symbol, status), yes="Halt")
        else:
            self.set_status(symbol, status)

    @work(thread=True, exclusive=True, group="instrument", exit_on_error=False)
    def set_status(self, symbol: str, status: str) -> None:
        from du_core.trading.admin import update_instrument
        from du_core.trading.schemas import UpdateInstrument
        from du_core.validation import parse

        self.du.deliver(lambda: self.du.call(update_instrument, parse(UpdateInstrument, symbol=symbol, status=status)),
                        lambda _instrument: self.notify(f"{symbol} is {status}"))
        self.app.call_from_thread(self.load_dashboard)  # changed or not: the dashboard shows what the core has

    def on_admin_dashboard_maintenance_requested(self, message: AdminDashboard.MaintenanceRequested) -> None:
        if message.on:
            self._ask("Turn maintenance mode on? Every user but the admins is refused until it is turned off.",
                      lambda: self.set_maintenance(True), yes="Turn on")
        else:
            self.set_maintenance(False)

    @work(thread=True, exclusive=True, group="maintenance", exit_on_error=False)
    def set_maintenance(self, on: bool) -> None:
        from du_core.admin.schemas import UpdateSettings
        from du_core.admin.service import settings_update
        from du_core.validation import parse

        self.du.deliver(
            lambda: self.du.call(settings_update, parse(UpdateSettings, values={"maintenance_mode": str(on).lower()})),
            lambda _settings: self.notify(f"maintenance mode is {'on' if on else 'off'}"))
        self.app.call_from_thread(self.load_dashboard)

    # -- users -----------------------------------------------------------------------------------

    def on_admin_users_query_changed(self, message: AdminUsers.QueryChanged) -> None:
        self.load_users(message.request)

    @work(thread=True, exclusive=True, group="users", exit_on_error=False)
    def load_users(self, request: dict[str, Any]) -> None:
        from du_core.admin.service import users_list
        from du_core.users.schemas import UserQuery
        from du_core.validation import parse

        self.du.deliver(lambda: self.du.call(users_list, parse(UserQuery, **request)),
                        partial(self._users_loaded, request))

    def _users_loaded(self, request: dict[str, Any], page: Any) -> None:
        users = self.query_one(AdminUsers)
        if request == users.request:  # an answer to a query the admin has since changed is dropped
            users.page = page

    def on_admin_users_opened(self, message: AdminUsers.Opened) -> None:
        self.load_user(message.user_id, focus=True)

    @work(thread=True, exclusive=True, group="user", exit_on_error=False)
    def load_user(self, user_id: Any, *, focus: bool = False, error: str = "") -> None:
        from du_core.admin.service import users_show
        from du_core.users.schemas import UserId

        self.du.deliver(lambda: self.du.call(users_show, UserId(user_id=user_id)),
                        partial(self._user_loaded, focus=focus, error=error))

    def _user_loaded(self, detail: Any, focus: bool, error: str) -> None:
        panel = self.query_one(AdminUserDetail)
        panel.detail = detail
        panel.error = error
        self.query_one("#users-body").add_class("-open")
        if focus:
            panel.focus()

    def on_admin_user_detail_closed(self, message: AdminUserDetail.Closed) -> None:
        self.query_one("#users-body").remove_class("-open")
        self.query_one(AdminUsers).focus_table()

    def on_admin_user_detail_role_requested(self, message: AdminUserDetail.RoleRequested) -> None:
        user_id, role = message.user_id, message.role

        def answered(ok: bool | None) -> None:
            if ok:
                self.update_user(user_id, role=role)
            else:  # the select goes back to the role the account really has
                self.load_user(user_id)

        self.app.push_screen(AdminConfirm(f"Make {message.email} {role}? What they may do changes at once.",
                                          yes="Change role"), answered)

    def on_admin_user_detail_kyc_requested(self, message: AdminUserDetail.KycRequested) -> None:
        self.update_user(message.user_id, kyc_level=message.level)

    @work(thread=True, exclusive=True, group="user-update", exit_on_error=False)
    def update_user(self, user_id: Any, **changes: Any) -> None:
        from du_core.admin.schemas import UpdateUser
        from du_core.admin.service import users_update
        from du_core.errors import DomainError
        from du_core.validation import parse

        error = ""
        try:
            self.du.call(users_update, parse(UpdateUser, user_id=user_id, **changes))
        except DomainError as err:  # shown in the panel, which then shows the account as it still is
            error = err.message
        except Exception as exc:  # noqa: BLE001 - a bug is a notification, never a crash
            self.app.call_from_thread(self.du.report, exc)
        self.app.call_from_thread(self._user_updated, user_id, error)

    def _user_updated(self, user_id: Any, error: str) -> None:
        """Show the account and its row as the core now has them (changed or not)."""
        self.load_user(user_id, error=error)
        self.load_users(dict(self.query_one(AdminUsers).request))

    # -- settings --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="settings", exit_on_error=False)
    def load_settings(self) -> None:
        from du_core.admin.service import settings_show

        self.du.deliver(lambda: self.du.call(settings_show), partial(self._give, AdminSettings, "settings"))

    def on_admin_settings_save(self, message: AdminSettings.Save) -> None:
        self.save_setting(message.key, message.value)

    @work(thread=True, exclusive=True, group="settings-save", exit_on_error=False)
    def save_setting(self, key: str, value: str) -> None:
        from du_core.admin.schemas import UpdateSettings
        from du_core.admin.service import settings_show, settings_update
        from du_core.validation import parse

        def save() -> list[Any]:
            self.du.call(settings_update, parse(UpdateSettings, values={key: value}))
            return self.du.call(settings_show)

        # a refusal is the core's reason, under the editor: nothing was changed
        self.du.deliver(save, partial(self._setting_saved, key), refused=partial(self._give, AdminSettings, "error"))

    def _setting_saved(self, key: str, views: list[Any]) -> None:
        editor = self.query_one(AdminSettings)
        editor.settings = views
        editor.saved(key)

    # -- audit -----------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="audit", exit_on_error=False)
    def load_audit(self) -> None:
        from du_core.admin.schemas import AuditQuery
        from du_core.admin.service import audit_list

        self.du.deliver(lambda: self.du.call(audit_list, AuditQuery(limit=TAIL)),
                        lambda page: self.query_one(AdminAudit).show(page.items))

    def on_admin_audit_verify_requested(self, message: AdminAudit.VerifyRequested) -> None:
        self.verify_audit()

    @work(thread=True, exclusive=True, group="audit-verify", exit_on_error=False)
    def verify_audit(self) -> None:
        from du_core.admin.service import audit_verify

        self.du.deliver(lambda: self.du.call(audit_verify), partial(self._give, AdminAudit, "verification"))
