"""`du market simulate`: simulated traders placing real orders, for a live book or a load test.

It creates users and money, so it is for admins: the caller must be logged in as one. The run
streams its own progress on stderr (like `du market watch`), then renders its summary as any
command does. `du demo` runs simulations through `run_with_status` too.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from du_cli.command import command
from du_cli.commands.market import app

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from du_core.actor import Actor
    from du_core.simulation import SimTrader, SimulationConfig, SimulationReport

OFF_TERMINAL_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal


@command(app, "simulate", title="Simulation")
def simulate(
    symbols: Annotated[str, typer.Option("--symbols", help="Instruments to trade, comma-separated.",
                                         metavar="SYMBOLS")] = "BTC-USD,ETH-USD",
    rate: Annotated[float, typer.Option("--rate", help="Orders placed a second, all traders together.")] = 20.0,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Seconds to run (default 60).",
                                                      metavar="SECONDS")] = None,
    forever: Annotated[bool, typer.Option("--forever", help="Run until Ctrl-C.")] = False,
    makers: Annotated[int, typer.Option("--makers", help="Market makers quoting both sides (0-50).")] = 3,
    takers: Annotated[int, typer.Option("--takers", help="Takers sending market and marketable orders (0-50).")] = 3,
    seed: Annotated[Optional[int], typer.Option(
        "--seed", help="Seed of the random choices and price walks (default: a random one, shown in the summary).")
    ] = None,
    volatility: Annotated[float, typer.Option("--volatility", help="Standard deviation of the fair price's log "
                                                                   "change per second.")] = 0.001,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Threads placing orders (default: one a "
                                                                     "trader, at most 8).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress line on stderr.")] = False,
):
    """Run simulated traders placing real orders (admin): makers quote around a random-walk price, takers trade.

    The traders (sim-maker-N and sim-taker-N@sim.example) are created on first use, given role
    standard and KYC level 1, and funded with sandbox deposits. Every order goes through the same
    checks as a person's; a refused order is counted by its reason and the run goes on. Progress
    goes to stderr; Ctrl-C stops the run and prints the summary. A lost database ends it with exit 8.
    """
    from du_core.simulation import prepare

    from du_cli.context import engine

    config = sim_config(symbols=symbols, rate=rate, duration=duration, forever=forever, makers=makers,
                        takers=takers, seed=seed, volatility=volatility, workers=workers)
    admin = require_admin("du market simulate")
    eng = engine()
    traders = prepare(eng, admin, config)
    return ensure_finished(run_with_status(eng, traders, config, quiet=quiet))


def sim_config(*, symbols: str, duration: float | None, forever: bool, **fields: object) -> SimulationConfig:
    """The run's configuration from the command's options.

    Raises:
        InvalidInput: a bad value, or both --duration and --forever.
    """
    from du_core.errors import InvalidInput
    from du_core.simulation import SimulationConfig
    from du_core.validation import parse

    if forever and duration is not None:
        raise InvalidInput("give --duration or --forever, not both")
    return parse(SimulationConfig, symbols=[s for s in symbols.split(",") if s.strip()],
                 duration=None if forever else (60.0 if duration is None else duration), **fields)


def require_admin(what: str) -> Actor:
    """The logged-in admin of this profile.

    Raises:
        AuthRequired: nobody is logged in.
        PermissionDenied: the logged-in user is not an admin.
    """
    from du_core.errors import AuthRequired, PermissionDenied
    from du_core.simulation.demo import caller

    from du_cli import credentials
    from du_cli.context import call, settings

    s = settings()
    if credentials.load(s) is None and not s.database_url:
        raise AuthRequired(f"{what} creates users and money, so it needs an admin's login. On this machine's "
                           "embedded database, du demo sets up an admin and logs it in; or du auth login as an admin")
    actor = call(caller)
    if not actor.is_admin:
        raise PermissionDenied(f"{what} is for admins: it creates users and money (your role is {actor.role.value})",
                               details={"role": actor.role.value})
    return actor


def run_with_status(engine: Engine, traders: list[SimTrader], config: SimulationConfig, *,
                    quiet: bool = False) -> SimulationReport:
    """Run the simulation with a one-line status on stderr (rewritten in place on a terminal).

    Ctrl-C and SIGTERM end the run cleanly: the report is still returned.
    """
    from du_core.simulation import simulate as run_simulation

    terminal = sys.stderr.isatty()
    last = {"at": time.monotonic(), "placed": 0, "shown": 0.0}

    def show(report: SimulationReport) -> None:
        now = time.monotonic()
        speed = (report.placed - last["placed"]) / max(now - last["at"], 1e-9)
        last.update(at=now, placed=report.placed)
        if terminal:
            sys.stderr.write("\r\x1b[K" + status_line(report, speed))
            sys.stderr.flush()
        elif now - last["shown"] >= OFF_TERMINAL_EVERY:
            last["shown"] = now
            sys.stderr.write(status_line(report, speed) + "\n")

    stop = threading.Event()
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if on_main else None
    try:  # Ctrl-C arrives as KeyboardInterrupt, which the run turns into a clean stop
        return run_simulation(engine, traders, config, stop=stop, progress=None if quiet else show)
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous)
        if terminal and not quiet:
            sys.stderr.write("\n")


def status_line(report: SimulationReport, speed: float) -> str:
    prices = "  ".join(f"{s} {report.last_prices[s] or report.fair_prices[s]}" for s in report.symbols)
    unfilled = sum(report.rejected.values())
    return (f"{report.seconds:7.0f}s  {speed:6.1f} orders/s  placed {report.placed}  trades {report.trades}  "
            f"cancelled {report.cancelled}  unfilled {unfilled}  {prices}")


def ensure_finished(report: SimulationReport) -> SimulationReport:
    """The report of a run that ended as asked; a run the database or a bug ended is an error.

    Raises:
        DatabaseUnavailable: the database went away (the counts so far are in the details).
        InternalError: too many unexpected errors in a row.
    """
    from du_core.errors import DatabaseUnavailable, InternalError

    if report.stopped_by == "database_unavailable":
        raise DatabaseUnavailable(f"the simulation stopped: {report.error}",
                                  details={"summary": report.model_dump(mode="json")})
    if report.stopped_by == "errors":
        raise InternalError(f"the simulation stopped: {report.error}",
                            details={"summary": report.model_dump(mode="json")})
    return report
