"""Line charts for the terminal, drawn with braille characters (2 x 4 dots a cell) in plain Python.

A chart is text: the commands hand it to the output module like any other result, so nothing
here prints, and nothing needs a dependency beyond the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_BRAILLE = 0x2800
# dot bit of (column, row) inside one braille cell, rows from the top
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def _label(value: float) -> str:
    return f"{value:,.2f}"


def line(values: Sequence[float | None], *, width: int = 60, height: int = 10, first: str = "",
         last: str = "") -> str:
    """A line chart of `values` (None leaves a gap), `width` x `height` cells plus axis labels.

    The y axis runs from the smallest to the largest value (labelled at the top and bottom); the
    x axis is labelled with `first` and `last` under its ends. Points are joined by straight lines.
    """
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return "(no values to draw)"
    width, height = max(width, 4), max(height, 2)
    lo, hi = min(known), max(known)
    span = hi - lo
    cols, rows = width * 2, height * 4
    grid = [[0] * width for _ in range(height)]

    def dot(x: int, y: int) -> None:  # y = 0 is the bottom
        row = rows - 1 - y
        grid[row // 4][x // 2] |= _DOTS[x % 2][row % 4]

    def pixel(i: int, v: float) -> tuple[int, int]:
        x = 0 if len(values) == 1 else round(i * (cols - 1) / (len(values) - 1))
        y = rows // 2 if span == 0 else round((v - lo) / span * (rows - 1))
        return x, y

    previous: tuple[int, int] | None = None
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            previous = None
            continue
        x, y = pixel(i, v)
        if previous is None:
            dot(x, y)
        else:
            (x0, y0), steps = previous, max(abs(x - previous[0]), abs(y - previous[1]), 1)
            for s in range(steps + 1):
                dot(round(x0 + (x - x0) * s / steps), round(y0 + (y - y0) * s / steps))
        previous = (x, y)
    top, bottom = _label(hi), _label(lo)
    margin = max(len(top), len(bottom))
    lines = []
    for r, cells in enumerate(grid):
        label = top if r == 0 else bottom if r == height - 1 else ""
        lines.append(f"{label:>{margin}} ┤" + "".join(chr(_BRAILLE + c) for c in cells))
    lines.append(" " * margin + " └" + "─" * width)
    if first or last:
        gap = max(1, width - len(first) - len(last))
        lines.append(" " * (margin + 2) + first + " " * gap + last)
    return "\n".join(lines)
