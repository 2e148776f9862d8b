"""The settings editor of the admin console: every platform setting, and one value edited at a time.

Enter on a row puts that setting's value in the editor; enter in the editor posts `Save` with the
text as typed. The core parses and bounds it (admin.settings_update): the widget does not judge
values, it shows the core's refusal under the editor (`error`) and keeps the text for a retry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Label, Static


def as_text(value: Any) -> str:
    """A setting's value as an admin types it (true/false, plain decimals)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


class AdminSettings(Vertical):
    """Rows of `SettingView`s keyed by setting name, and the editor below them."""

    BINDINGS = [Binding("escape", "cancel", "Cancel edit", show=False)]

    class Save(Message):
        def __init__(self, key: str, value: str) -> None:
            super().__init__()
            self.key, self.value = key, value

    settings: reactive[list[Any]] = reactive(list, always_update=True)
    editing: reactive[str] = reactive("")
    error: reactive[str] = reactive("")

    def compose(self) -> ComposeResult:
        yield DataTable(id="settings-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="settings-editor"):
            yield Label("select a setting and press enter to edit it", id="settings-key")
            yield Input(compact=True, id="settings-value", disabled=True)
        yield Static("", id="settings-message")

    def on_mount(self) -> None:
        table = self.query_one("#settings-table", DataTable)
        for label in ("setting", "value", "default", "range", "meaning"):
            table.add_column(label, key=label)

    def watch_settings(self, settings: list[Any]) -> None:
        if not self.is_mounted:
            return
        table = self.query_one("#settings-table", DataTable)
        for s in settings:
            bounds = "" if s.minimum is None and s.maximum is None else f"{as_text(s.minimum)}..{as_text(s.maximum)}"
            cells = (s.key, as_text(s.value), as_text(s.default), bounds, s.description)
            if s.key in table.rows:  # in place: the highlighted row stays where the admin left it
                for column, value in zip(("value", "default", "range", "meaning"), cells[1:]):
                    table.update_cell(s.key, column, value)
            else:
                table.add_row(*cells, key=s.key)

    def value_of(self, key: str) -> Any:
        return next((s.value for s in self.settings if s.key == key), None)

    def watch_editing(self, key: str) -> None:
        field = self.query_one("#settings-value", Input)
        label = self.query_one("#settings-key", Label)
        field.disabled = not key
        if key:
            label.update(f"{key} =")
            field.value = as_text(self.value_of(key))
            field.focus()
        else:
            label.update("select a setting and press enter to edit it")
            field.value = ""

    def watch_error(self, error: str) -> None:
        box = self.query_one("#settings-message", Static)
        box.update(error)
        box.set_class(bool(error), "error")

    def saved(self, key: str) -> None:
        """The core took the new value of `key`: close the editor and say so."""
        self.editing = ""
        self.error = ""
        self.query_one("#settings-message", Static).update(f"{key} saved: {as_text(self.value_of(key))}")
        self.focus_table()

    def focus_table(self) -> None:
        self.query_one("#settings-table", DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.error = ""
            self.editing = event.row_key.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.editing:
            self.post_message(self.Save(self.editing, event.value))

    def action_cancel(self) -> None:
        if self.editing:
            self.editing = ""
            self.error = ""
            self.focus_table()
