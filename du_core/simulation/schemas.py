"""What a simulation is asked to do, and what it reports."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, field_validator, model_validator

from du_core.trading.schemas import clean_symbol
from du_core.validation import Exact, Request, View

StoppedBy = Literal["duration", "stopped", "interrupted", "database_unavailable", "errors"]


class SimulationConfig(Request):
    """One run of simulated traders.

    `rate` counts orders placed per second by all traders together (a maker's cancel of a stale
    quote rides along with the order that replaces it). `volatility` is the standard deviation
    of the fair price's log change over one second (0.001: about 0.1 % a second, 6 % an hour).
    """

    symbols: list[str] = Field(default_factory=lambda: ["BTC-USD", "ETH-USD"], min_length=1, max_length=20)
    rate: float = Field(default=20.0, gt=0, le=10_000)
    duration: float | None = Field(default=60.0, gt=0, le=366 * 86_400)  # seconds; None: until stopped
    makers: int = Field(default=3, ge=0, le=50)
    takers: int = Field(default=3, ge=0, le=50)
    workers: int | None = Field(default=None, ge=1, le=32)  # threads; default: one a trader, at most 8
    seed: int | None = Field(default=None, ge=0, le=2**53)  # JSON numbers stay exact
    volatility: float = Field(default=0.001, ge=0, le=0.05)
    levels: int = Field(default=5, ge=1, le=50)  # a maker's quotes a side, per symbol
    warm_up: bool = True  # makers build their ladders at once before the paced run starts

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, values: list[str]) -> list[str]:
        cleaned = [clean_symbol(v) for v in values]
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a symbol is given twice")
        return cleaned

    @model_validator(mode="after")
    def _someone_trades(self) -> SimulationConfig:
        if self.makers + self.takers == 0:
            raise ValueError("give at least one maker or taker")
        return self


class TraderView(View):
    """A simulated trader: who it is and what `prepare` did for it."""

    id: uuid.UUID
    email: str
    kind: Literal["maker", "taker"]
    created: bool  # registered by this preparation (False: reused)
    deposited: dict[str, Exact]  # sandbox deposits made by this preparation, by asset


class SimulationReport(View):
    """The counts of a run (or of the run so far, for progress)."""

    symbols: list[str]
    seed: int
    seconds: float
    rate: float  # the target, orders a second
    orders_per_second: float  # placed / seconds
    placed: int
    filled: int  # filled in full on arrival
    partially_filled: int  # some filled on arrival; the rest rests or was cancelled
    rested: int  # nothing filled on arrival; resting in the book
    cancelled: int  # the simulated traders' own cancels that succeeded
    rejected: dict[str, int]  # by reason: an error code, or why an order ended unfilled on arrival
    trades: int
    deposits: int  # sandbox top-ups made when a trader ran short during the run
    volume: dict[str, Exact]  # traded value per symbol, in its quote asset
    last_prices: dict[str, Exact | None]
    fair_prices: dict[str, Exact]
    stopped_by: StoppedBy | None = None  # None while running
    error: str | None = None


class HistorySeed(View):
    """Generated candles imported for one symbol and interval (or why none were)."""

    symbol: str
    interval: str
    candles: int
    skipped: str | None = None


class DemoView(View):
    """What `du demo` set up and, when it ran one, its simulation's report."""

    database: str
    admin_email: str
    admin_created: bool
    logged_in: bool
    profile: str
    traders: list[TraderView]
    history: list[HistorySeed]
    next_commands: list[str]
    simulation: SimulationReport | None = None
