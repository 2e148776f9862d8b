"""Simulated traders placing real orders, so that a demo or a load test has a live market.

The boundary: a simulated trader is an ordinary account, and everything it does goes through the
platform's operations with its own Actor and the runner (one transaction per call): it registers,
an admin raises it to role standard and KYC level 1, it deposits through the sandbox gateway, and
it places and cancels orders with `trading.place` and `trading.cancel`. Nothing here writes a
table directly, so a simulation exercises (and can only do) what a person at the terminal could.

    prepare(engine, admin, config) -> [SimTrader]    create or reuse the traders and fund them
    simulate(engine, traders, config, stop=...)      makers quote, takers trade; returns the counts

Modules: `market` (fair prices, the tick and lot grid, the pace), `traders` (accounts and money),
`agents` (makers' and takers' behaviour), `runner` (threads, stop, report), `demo` (what `du demo`
adds: generated candle history, the admin checks).
"""

from __future__ import annotations

from du_core.simulation.runner import simulate
from du_core.simulation.schemas import SimulationConfig, SimulationReport, TraderView
from du_core.simulation.traders import SimTrader, prepare

__all__ = ["SimTrader", "SimulationConfig", "SimulationReport", "TraderView", "prepare", "simulate"]
