"""The risk of what the trader holds: value at risk, shortfall, volatility, ratios, drawdown and score.

Every number is the core's (`risk.metrics`, `risk.scoring`). A figure the core could not compute
is a dash with the core's reason beside it, never a 0 that would read as a measurement; when no
figure could be computed at all, the widget says so in words first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

if TYPE_CHECKING:
    from du_core.risk.schemas import MetricsView, ScoreView

DASH = "—"
# (label, level, horizon, figure of the tail entry)
TAIL = [("VaR 95% 1d", 0.95, "1d", "historical_var"), ("ES 95% 1d", 0.95, "1d", "historical_es"),
        ("VaR 99% 1d", 0.99, "1d", "historical_var")]
# (label, field of MetricsView, shown as a percentage)
RATIOS = [("volatility (yr)", "annual_volatility", True), ("Sharpe", "sharpe", False),
          ("Sortino", "sortino", False), ("max drawdown", "max_drawdown", True)]


class RiskFigures(Static):
    """A small table of the core's `MetricsView` and `ScoreView`; set `metrics` and `score`."""

    metrics: reactive[MetricsView | None] = reactive(None, init=False)
    score: reactive[ScoreView | None] = reactive(None, init=False)

    def on_mount(self) -> None:
        self.border_title = "Risk"

    def watch_metrics(self) -> None:
        self._draw()

    def watch_score(self) -> None:
        self._draw()

    def _draw(self) -> None:
        m = self.metrics
        if m is None:
            return
        self.border_subtitle = f"{m.window.start.isoformat()} – {m.window.end.isoformat()}, {m.base}"
        rows = self._rows(m)
        parts: list[RenderableType] = []
        if all(value is None for _label, value, _why in rows):
            parts.append(Text(_nothing_computed(m), style="bold yellow"))
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(ratio=1, overflow="fold")
        for label, value, why in rows:
            table.add_row(label, DASH if value is None else value, Text(why or "", style="dim"))
        if self.score is not None:
            table.add_row("risk score", f"{self.score.score:.0f}/100", Text(f"{self.score.band}, higher is riskier",
                                                                           style="dim"))
        parts.append(table)
        parts += [Text(f"left out: {x.symbol} ({x.source}): {x.reason}", style="dim") for x in m.left_out]
        parts += [Text(note, style="dim") for note in m.notes]
        self.update(Group(*parts))

    def _rows(self, m: MetricsView) -> list[tuple[str, str | None, str | None]]:
        """(label, shown value or None, the core's reason when None) for each figure."""
        rows: list[tuple[str, str | None, str | None]] = []
        for label, level, horizon, name in TAIL:
            tail = next((t for t in m.tail if t.level == level and t.horizon == horizon), None)
            if tail is None:
                continue
            value, amount = getattr(tail, name), getattr(tail, f"{name}_amount")
            if value is None:
                rows.append((label, None, tail.reasons.get(name)))
            else:
                money = "" if amount is None else f" ({amount:.2f})"
                rows.append((label, f"{value * 100:.2f}%{money}", None))
        for label, name, percent in RATIOS:
            value = getattr(m, name)
            if value is None:
                rows.append((label, None, m.reasons.get(name)))
            else:
                rows.append((label, f"{value * 100:.2f}%" if percent else f"{value:.2f}", None))
        return rows


def _nothing_computed(m: MetricsView) -> str:
    if not m.holdings:
        return "No risk figures: nothing you hold has a price history."
    return (f"Not enough history yet for risk figures: {m.observations} daily returns so far. "
            "Each figure below says what it needs.")
