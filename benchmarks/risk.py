"""Seconds to compute a portfolio's risk metrics from ten years of daily closes of 50 instruments.

What `du risk metrics` pays in compute once the price history is loaded: `portfolio_values` over a
2520 x 50 DataFrame of closes (with a few gaps to forward-fill), then `metrics` with a benchmark
(VaR and ES at 95 % and 99 % over 1 day and 1 week, historical and parametric; volatility,
Sharpe, Sortino, drawdown, beta). The closes are seeded geometric random walks (daily drift and
volatility drawn per instrument, 1 % of the closes knocked out), quantities are Decimals as the
holdings service hands them over. No database, no I/O: loading is measured elsewhere.

Target: under 1 s. Best of the runs reported, wall and CPU.

    python benchmarks/risk.py [--instruments 50] [--days 2520] [--runs 5] [--seed 7]
        [--out benchmarks/results/risk.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from du_core.risk.metrics import metrics, portfolio_values  # noqa: E402
from machine import cpu_model  # noqa: E402 - benchmarks/ is on the path when run as a script


TARGET_S = 1.0


def closes(instruments: int, days: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Seeded geometric random walks for the instruments, and one more for the benchmark."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-01-02", periods=days)
    drift = rng.normal(0.0003, 0.0003, instruments + 1)
    vol = rng.uniform(0.008, 0.03, instruments + 1)
    log_returns = rng.normal(drift, vol, (days, instruments + 1))
    walks = rng.uniform(10, 500, instruments + 1) * np.exp(np.cumsum(log_returns, axis=0))
    prices = pd.DataFrame(walks[:, :-1], index=index, columns=[f"S{i:02d}" for i in range(instruments)])
    # Gaps after the first row, so that every instrument has a price from day one.
    holes = rng.random(prices.shape) < 0.01
    holes[0] = False
    prices = prices.mask(holes)
    return prices, pd.Series(walks[:, -1], index=index, name="benchmark")


def run_once(prices: pd.DataFrame, quantities: dict[str, Decimal], benchmark: pd.Series) -> tuple[float, float]:
    started, cpu_started = time.perf_counter(), time.process_time()
    metrics(portfolio_values(prices, quantities), benchmark=benchmark)
    return time.perf_counter() - started, time.process_time() - cpu_started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=50)
    parser.add_argument("--days", type=int, default=2520, help="Business days of history (2520 = 10 years).")
    parser.add_argument("--runs", type=int, default=5, help="Timed runs; the best is reported.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="Also write the report as JSON here.")
    options = parser.parse_args()

    prices, benchmark = closes(options.instruments, options.days, options.seed)
    rng = np.random.default_rng(options.seed + 1)
    quantities = {symbol: Decimal(int(q)) for symbol, q in zip(prices.columns, rng.integers(1, 1000, prices.shape[1]))}
    # The first call pays pandas' lazy imports and caches once per process; reported, not ranked.
    first, _ = run_once(prices, quantities, benchmark)
    seconds, cpu_seconds = [], []
    for _ in range(options.runs):
        elapsed, cpu = run_once(prices, quantities, benchmark)
        seconds.append(elapsed)
        cpu_seconds.append(cpu)
    result = metrics(portfolio_values(prices, quantities), benchmark=benchmark)
    best = min(seconds)
    report = {
        "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "platform": platform.platform(),
                    "python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__},
        "input": {"instruments": options.instruments, "days": options.days, "seed": options.seed,
                  "missing_closes": int(prices.isna().sum().sum()), "observations": result.observations,
                  "benchmark_observations": result.benchmark_observations},
        "results": {"first_call_s": round(first, 4), "best_s": round(best, 4), "runs_s": [round(s, 4) for s in seconds],
                    "best_cpu_s": round(min(cpu_seconds), 4), "target_s": TARGET_S,
                    "met": best < TARGET_S},
    }
    text = json.dumps(report, indent=2)
    print(text)
    if options.out is not None:
        options.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
