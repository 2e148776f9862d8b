"""The renderer: exact JSON, plain text off a terminal, readable tables on one."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from pydantic import BaseModel

from du_cli import output


class Balance(BaseModel):
    asset: str
    amount: Decimal
    at: datetime
    note: str | None = None


ROW = Balance(asset="VND", amount=Decimal("1000000.000001"), at=datetime(2026, 11, 28, 10, 0, 1, 5, tzinfo=timezone.utc))


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def render(result, fmt, monkeypatch, tty=False):
    out = FakeTty() if tty else io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setenv("COLUMNS", "120")
    output.render(result, fmt)
    return out.getvalue()


def test_json_keeps_money_as_exact_strings_and_utc_offsets(monkeypatch):
    doc = json.loads(render([ROW], "json", monkeypatch))
    assert doc == [{"asset": "VND", "amount": "1000000.000001", "at": "2026-11-28T10:00:01.000005Z", "note": None}]


def test_off_a_terminal_tables_are_tab_separated_without_colour(monkeypatch):
    text = render([ROW], "table", monkeypatch)
    assert text.splitlines() == ["asset\tamount\tat\tnote", "VND\t1000000.000001\t2026-11-28T10:00:01.000005Z\t"]


def test_csv_has_a_header_and_exact_values(monkeypatch):
    assert render([ROW], "csv", monkeypatch).splitlines()[1] == "VND,1000000.000001,2026-11-28T10:00:01.000005Z,"


def test_on_a_terminal_markup_in_data_prints_as_typed(monkeypatch):
    text = render(Balance(asset="[red]X[/red]", amount=Decimal(1), at=ROW.at), "table", monkeypatch, tty=True)
    assert "[red]X[/red]" in text


def test_on_a_terminal_empty_columns_are_dropped_and_times_shortened(monkeypatch):
    text = render([ROW], "table", monkeypatch, tty=True)
    assert "note" not in text and "2026-11-28 10:00:01Z" in text


def test_nested_records_get_their_own_table(monkeypatch):
    text = render({"ok": True, "steps": [{"step": "a", "done": True}, {"step": "b", "done": False}]}, "table",
                  monkeypatch, tty=True)
    assert '"step"' not in text and "steps" in text and "done" in text


@pytest.mark.parametrize("fmt", ["json", "table", "csv"])
def test_nothing_is_printed_for_no_result(monkeypatch, fmt):
    assert render(None, fmt, monkeypatch) == ""


def test_csv_spells_booleans_for_machines(monkeypatch):
    class Flag(BaseModel):
        on: bool

    assert render([Flag(on=True), Flag(on=False)], "csv", monkeypatch).splitlines() == ["on", "true", "false"]
