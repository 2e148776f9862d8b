"""The accounts list of the admin console: search, status and role filters, one page at a time.

The widget holds the admin's query (`request`: search text, filters, page) and posts it up as
`QueryChanged` whenever it changes; the screen asks the core (admin.users_list) and sets `page`
with the `UserPage` it got for that query. Enter on a row posts `Opened` with the user's id.
"""

from __future__ import annotations

import uuid
from typing import Any, get_args

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Select, Static

from du_core.actor import Role
from du_core.users.schemas import Status

# the core's own lists, so a new role or status shows here without a change to the console
STATUSES: tuple[str, ...] = get_args(Status)
ROLES = tuple(role.value for role in Role)
PAGE_SIZE = 50  # as du admin users list: a tall terminal shows a whole page, a short one scrolls it


class AdminUsers(Vertical):
    """A page of `UserRow`s; `/` searches, `n` and `p` turn pages, enter opens the highlighted user."""

    BINDINGS = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("n", "page(1)", "Next page"),
        Binding("p", "page(-1)", "Prev page"),
    ]

    class QueryChanged(Message):
        """Read this query's page: `request` holds search, status, role, page and limit."""

        def __init__(self, request: dict[str, Any]) -> None:
            super().__init__()
            self.request = request

    class Opened(Message):
        def __init__(self, user_id: uuid.UUID) -> None:
            super().__init__()
            self.user_id = user_id

    page: reactive[Any] = reactive(None, always_update=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.request: dict[str, Any] = {"search": None, "status": None, "role": None, "page": 1, "limit": PAGE_SIZE}

    def compose(self) -> ComposeResult:
        with Horizontal(id="users-filters"):
            yield Input(placeholder="search email, phone or name", compact=True, id="users-search")
            yield Select([(s, s) for s in STATUSES], prompt="any status", compact=True, id="users-status")
            yield Select([(r, r) for r in ROLES], prompt="any role", compact=True, id="users-role")
        yield DataTable(id="users-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="users-pager")

    def on_mount(self) -> None:
        table = self.query_one("#users-table", DataTable)
        for label in ("email", "name", "role", "status", "kyc", "created"):
            table.add_column(label, key=label)

    def ask(self, **changes: Any) -> None:
        """Change the query and post it (any change but the page starts again at page 1)."""
        self.request = {**self.request, "page": 1, **changes}
        self.post_message(self.QueryChanged(dict(self.request)))

    def watch_page(self, page: Any) -> None:
        if page is None or not self.is_mounted:
            return
        table = self.query_one("#users-table", DataTable)
        table.clear()
        for u in page.items:
            table.add_row(u.email, u.full_name or "", u.role, u.status, str(u.kyc_level),
                          f"{u.created_at:%Y-%m-%d}", key=str(u.id))
        pages = max(1, -(-page.total // page.limit))
        self.query_one("#users-pager", Static).update(
            f"page {page.page} of {pages} · {page.total} user{'' if page.total == 1 else 's'}")

    @property
    def user_ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(str(key.value)) for key in self.query_one("#users-table", DataTable).rows]

    def focus_table(self) -> None:
        self.query_one("#users-table", DataTable).focus()

    def action_search(self) -> None:
        self.query_one("#users-search", Input).focus()

    def action_page(self, step: int) -> None:
        if self.page is None:
            return
        pages = max(1, -(-self.page.total // self.page.limit))
        target = self.request["page"] + step
        if 1 <= target <= pages:
            self.request = {**self.request, "page": target}
            self.post_message(self.QueryChanged(dict(self.request)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.ask(search=event.value.strip() or None)
        self.focus_table()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        value = None if event.value is Select.NULL else event.value
        field = "status" if event.select.id == "users-status" else "role"
        if self.request[field] != value:
            self.ask(**{field: value})

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Opened(uuid.UUID(event.row_key.value)))
