"""`risk.metrics` end to end: a portfolio of 50 instruments with 10 years of daily history.

The service call a `du risk metrics` makes, on a fresh embedded PostgreSQL: read the holdings,
value them, read 50 x 10 years of daily closes, compute every figure. `benchmarks/risk.py`
times the arithmetic alone; this times what a user waits for, less the process start
(`startup.py`).

    python benchmarks/risk_command.py --runs 5 --out benchmarks/results/risk_command.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from deposits import start_server  # the same fresh embedded server as the deposit benchmark
from machine import cpu_model

SYMBOLS = 50
START, END = date(2014, 1, 1), date(2023, 12, 31)


def seed(url: str, user: uuid.UUID) -> None:
    """50 seeded random walks of business-day candles and one external holding of each."""
    import numpy as np
    import psycopg

    from du_core.db.engine import create, upgrade

    engine = create(url)
    upgrade(engine)
    engine.dispose()
    days = [START + timedelta(days=i) for i in range((END - START).days + 1)]
    days = [d for d in days if d.weekday() < 5]
    rng = np.random.default_rng(1)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("INSERT INTO users (id, email, phone, password_hash, role, kyc_level)"
                     " VALUES (%s, 'risk@example.com', '+84911111111', 'x', 'standard', 1)", (user,))
        for k in range(SYMBOLS):
            symbol = f"S{k:02d}"
            closes = 100 * np.cumprod(1 + rng.normal(0.0003, 0.02, len(days)))
            with conn.cursor().copy('COPY candles (symbol, "interval", start, open, high, low, close, volume,'
                                    ' source) FROM STDIN') as copy:
                for day, close in zip(days, closes):
                    price = f"{close:.4f}"
                    copy.write_row((symbol, "1d", f"{day} 00:00:00+00", price, price, price, price, "0", "import"))
            conn.execute("INSERT INTO external_holdings (user_id, symbol, quantity, average_cost, currency)"
                         " VALUES (%s, %s, 10, 1, 'USD')", (user, symbol))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="du-bench-risk-"))
    server, url, _ = start_server(root)
    user = uuid.uuid4()
    seed(url, user)

    from du_core.actor import Actor, Role
    from du_core.db.engine import create
    from du_core.db.runner import run
    from du_core.risk import service
    from du_core.risk.schemas import MetricsQuery

    engine = create(url)
    actor = Actor(user_id=user, role=Role.standard, kyc_level=1)
    request = MetricsQuery(since=START, until=END, benchmark="S00")
    times = []
    observations = None
    for _ in range(args.runs):
        started = time.perf_counter()
        result = run(engine, service.metrics, request, actor=actor)
        times.append(time.perf_counter() - started)
        observations = result.observations
    engine.dispose()
    del server
    report = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "symbols": SYMBOLS, "observations": observations, "runs": args.runs,
        "first_s": round(times[0], 3), "best_s": round(min(times), 3),
        "median_s": round(sorted(times)[len(times) // 2], 3), "target_s": 1.0,
    }
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
