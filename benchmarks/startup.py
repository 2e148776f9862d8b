"""Whole-process latency of `du`: start-up (`du --help`) and a logged-in read (`du auth whoami`).

Each command runs as a new process, as a user or a script runs it. The embedded database is
started (and a user registered and logged in) before timing, so the read measures a warm server.

    python benchmarks/startup.py [--runs 21] [--out benchmarks/results/startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DU = str(Path(sys.executable).parent / "du")
PASSWORD = "slow tortoises win races 9"


def timed(args: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([DU, *args], env=env, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"du {' '.join(args)} failed: {done.stderr.strip()}")
    samples.sort()
    return {"median_s": round(statistics.median(samples), 4), "min_s": round(samples[0], 4),
            "p90_s": round(samples[int(len(samples) * 0.9) - 1], 4), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="du-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DU_")}
    env.update(DU_DATA_DIR=str(home / "data"), DU_CONFIG_DIR=str(home / "config"), HOME=str(home))
    setup = [
        ["db", "start"],
        ["auth", "register", "--email", "bench@example.com", "--phone", "+84912000000", "--full-name",
         "Bench Mark", "--date-of-birth", "1990-01-01", "--nationality", "VN", "--password-stdin"],
        ["auth", "login", "--email", "bench@example.com", "--password-stdin", "--insecure-storage"],
    ]
    for step in setup:
        subprocess.run([DU, *step], env=env, input=PASSWORD + "\n", capture_output=True, text=True, check=True)
    try:
        results = {
            "du --help": timed(["--help"], env, args.runs),
            "du auth whoami": timed(["auth", "whoami"], env, args.runs),
            "du auth whoami --json": timed(["auth", "whoami", "--json"], env, args.runs),
        }
    finally:
        subprocess.run([DU, "db", "stop"], env=env, capture_output=True)
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
