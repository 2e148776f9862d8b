"""The one place that turns results into output: a table, JSON or CSV.

stdout carries data only. A table on a terminal is drawn with rich; off a terminal it is plain
tab-separated text with no colour and no box drawing, so it pipes into `cut` and `awk`.
JSON is exactly the service's result (`model_dump(mode="json")`): money as strings, UTC offsets.
"""

from __future__ import annotations

import csv
import io
import json
import re
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
            # machine-readable: booleans as JSON spells them, not yes/no
            writer.writerow({k: (str(v).lower() if isinstance(v, bool) else _cell(v)) for k, v in row.items()})
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
    _rich_table(data, rows, footer, is_listing=is_listing, title=title)


_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _human(value: Any) -> str:
    """A cell for eyes: timestamps to the second (exact values stay in JSON and CSV)."""
    text = _cell(value)
    match = _ISO.match(text)
    if match:
        date, clock, zone = match.groups()
        return f"{date} {clock}{'Z' if zone in ('Z', '+00:00') else zone}"
    return text


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _rich_table(data: Any, rows: list[dict[str, Any]], footer: str | None, *, is_listing: bool,
                title: str | None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Text, not markup: a user's name containing "[red]" must print as typed.
    console = Console()

    def listing(records: list[dict[str, Any]], heading: str | None) -> None:
        # Columns empty in every row are left out on screen (they stay in JSON and CSV).
        columns = [c for c in records[0] if any(_cell(r.get(c)) for r in records)]
        table = Table(title=heading, header_style="bold")
        for col in columns:
            table.add_column(col.replace("_", " "), overflow="fold")
        for r in records:
            table.add_row(*(Text(_human(r.get(c))) for c in columns))
        console.print(table)

    if is_listing:
        if rows:
            listing(rows, title)
        else:
            console.print(Text("(nothing to show)", style="dim"))
        if footer:
            console.print(Text(footer, style="dim"))
    elif isinstance(data, dict):
        table = Table(title=title, show_header=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        nested = {k: v for k, v in data.items() if _is_records(v)}
        for k, v in data.items():
            if k not in nested:
                table.add_row(k.replace("_", " "), Text(_human(v)))
        console.print(table)
        for k, records in nested.items():
            listing(records, k.replace("_", " "))
    else:
        console.print(Text(_cell(data)))
