"""The one place that turns results into output: a table, JSON or CSV.

stdout carries data only. A table on a terminal is drawn with rich; off a terminal it is plain
tab-separated text with no colour and no box drawing, so it pipes into `cut` and `awk`.
JSON is exactly the service's result (`model_dump(mode="json")`): money as strings, UTC offsets.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

FORMATS = ("table", "json", "csv")


def to_data(result: Any) -> Any:
    """The JSON-ready form of a result (pydantic models, lists of them, or plain data)."""
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json")
    if isinstance(result, (list, tuple)):
        return [to_data(r) for r in result]
    return result


def render(result: Any, fmt: str, *, title: str | None = None) -> None:
    """Write `result` to stdout in `fmt`."""
    if result is None:
        return
    data = to_data(result)
    if fmt == "json":
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        _csv(data)
    else:
        _table(data, title=title)


def _rows_of(data: Any) -> tuple[list[dict[str, Any]], str | None]:
    """A listing's rows and, for a page, a footer line."""
    if isinstance(data, dict) and "items" in data and isinstance(data["items"], list):
        footer = None
        if {"page", "limit", "total"} <= data.keys():
            pages = max(1, -(-data["total"] // max(1, data["limit"])))
            footer = f"page {data['page']} of {pages} ({data['total']} in all)"
        return data["items"], footer
    if isinstance(data, list):
        return [d if isinstance(d, dict) else {"value": d} for d in data], None
    return [], None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else ""
    return str(value)


def _csv(data: Any) -> None:
    rows, _ = _rows_of(data)
    if not rows and isinstance(data, dict):
        rows = [data]
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    sys.stdout.write(buffer.getvalue())


def _table(data: Any, *, title: str | None) -> None:
    rows, footer = _rows_of(data)
    is_listing = isinstance(data, list) or (isinstance(data, dict) and "items" in data)
    if not sys.stdout.isatty():
        lines: list[str] = []
        if is_listing:
            if rows:
                lines.append("\t".join(rows[0].keys()))
                lines += ["\t".join(_cell(v).replace("\t", " ") for v in r.values()) for r in rows]
        elif isinstance(data, dict):
            lines += [f"{k}\t{_cell(v)}" for k, v in data.items()]
        else:
            lines.append(_cell(data))
        sys.stdout.write("".join(line + "\n" for line in lines))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Text, not markup: a user's name containing "[red]" must print as typed.
    console = Console()
    if is_listing:
        table = Table(title=title, header_style="bold")
        columns = list(rows[0].keys()) if rows else []
        for col in columns:
            table.add_column(col.replace("_", " "), overflow="fold")
        for r in rows:
            table.add_row(*(Text(_cell(r.get(c))) for c in columns))
        if rows:
            console.print(table)
        else:
            console.print("[dim](nothing to show)[/dim]")
        if footer:
            console.print(f"[dim]{footer}[/dim]")
    elif isinstance(data, dict):
        table = Table(title=title, show_header=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for k, v in data.items():
            table.add_row(k.replace("_", " "), Text(_cell(v)))
        console.print(table)
    else:
        console.print(Text(_cell(data)))
