"""Running simulated traders: worker threads, one shared pace, a clean stop, and the report.

Threads, not processes: each order is a short transaction that spends most of its time waiting
on PostgreSQL, and the engine's connection pool is shared. The traders are dealt out to the
workers so that each trader acts from exactly one thread (a maker's view of its quotes is never
raced by itself). The run ends at its duration, when `stop` is set, on Ctrl-C in the calling
thread, when the database goes away, or after `MAX_CONSECUTIVE_FAILURES` unexpected errors in a row.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from du_core.errors import DatabaseUnavailable, InvalidInput
from du_core.money import quantize_down
from du_core.simulation.agents import Agent, Maker, Taker, Tally, World
from du_core.simulation.market import FairPrice, Pacer
from du_core.simulation.schemas import SimulationConfig, SimulationReport
from du_core.simulation.traders import SimTrader, asset_places, funding_targets, load_rules

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

MAX_WORKERS = 8
MAX_CONSECUTIVE_FAILURES = 25


def simulate(
    engine: Engine,
    traders: list[SimTrader],
    config: SimulationConfig,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[SimulationReport], None] | None = None,
    progress_every: float = 1.0,
) -> SimulationReport:
    """Run `traders` (from `prepare`) as `config` says and return what they did.

    Returns normally however the run ends; `stopped_by` says how (`database_unavailable` and
    `errors` with the message in `error`).

    Raises:
        InvalidInput: no traders.
        NotFound, TradingDisabled, InvalidState: a symbol cannot be simulated (checked before
            anything is sent).
    """
    if not traders:
        raise InvalidInput("there are no simulated traders: prepare some first")
    rules = load_rules(engine, config.symbols)
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**31)
    stop = stop or threading.Event()
    world = World(
        engine=engine, rules=rules,
        fair={s: FairPrice(r.start_price(), config.volatility, seed=f"{seed}:{s}") for s, r in rules.items()},
        targets=funding_targets(rules), places=asset_places(engine), levels=config.levels,
        tally=Tally(), stop=stop,
    )
    agents: list[Agent] = [(Maker if t.kind == "maker" else Taker)(t, world, rng=random.Random(f"{seed}:{t.email}"))
                           for t in _interleaved(traders)]
    count = min(config.workers or MAX_WORKERS, len(agents))
    pacer = Pacer(config.rate)
    started = time.monotonic()
    ready = threading.Barrier(count)
    threads = [threading.Thread(target=_work, args=(agents[w::count], world),
                                kwargs={"pacer": pacer, "rng": random.Random(f"{seed}:{w}"),
                                        "warmed_up": ready if config.warm_up else None},
                                name=f"simulation-{w}", daemon=True)
               for w in range(count)]
    for thread in threads:
        thread.start()
    deadline = None if config.duration is None else started + config.duration
    try:
        while True:
            left = progress_every if deadline is None else min(progress_every, deadline - time.monotonic())
            if left <= 0:
                world.tally.halt("duration", None, stop)
                break
            if stop.wait(left):
                break
            if progress is not None:
                progress(report(world, seed=seed, config=config, seconds=time.monotonic() - started))
    except KeyboardInterrupt:
        world.tally.halt("interrupted", None, stop)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    world.tally.halt("stopped", None, stop)  # stopped from outside: by whoever set `stop`
    return report(world, seed=seed, config=config, seconds=time.monotonic() - started)


def _interleaved(traders: list[SimTrader]) -> list[SimTrader]:
    """Makers and takers alternating, so that dealing them out gives every worker a mix."""
    makers = [t for t in traders if t.kind == "maker"]
    takers = [t for t in traders if t.kind == "taker"]
    mixed: list[SimTrader] = []
    for i in range(max(len(makers), len(takers))):
        mixed += makers[i:i + 1] + takers[i:i + 1]
    return mixed


def _work(agents: list[Agent], world: World, *, pacer: Pacer, rng: random.Random,
          warmed_up: threading.Barrier | None) -> None:
    """One worker: warm its makers up, then act for a random one of its traders at each paced moment."""
    failures = 0

    def attempt(action: Callable[[], None]) -> None:
        nonlocal failures
        try:
            action()
            failures = 0
        except DatabaseUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in one order must not end the run; many in a row do
            failures += 1
            world.tally.reject(f"internal_error:{type(exc).__name__}")
            if failures >= MAX_CONSECUTIVE_FAILURES:
                world.tally.halt("errors", f"{failures} unexpected errors in a row, the last: "
                                           f"{type(exc).__name__}: {exc}"[:500], world.stop)

    try:
        if warmed_up is not None:  # every maker quotes its ladder before any taker trades
            try:
                for agent in agents:
                    attempt(agent.warm_up)
            finally:
                try:
                    warmed_up.wait()
                except threading.BrokenBarrierError:
                    pass
        while pacer.wait(world.stop):
            attempt(rng.choice(agents).act)
    except DatabaseUnavailable as err:
        world.tally.halt("database_unavailable", err.message, world.stop)


def report(world: World, *, seed: int, config: SimulationConfig, seconds: float) -> SimulationReport:
    """The run's counts so far."""
    t = world.tally
    with t.lock:
        return SimulationReport(
            symbols=list(world.rules), seed=seed, seconds=round(seconds, 3), rate=config.rate,
            orders_per_second=round(t.placed / seconds, 2) if seconds > 0 else 0.0,
            placed=t.placed, filled=t.filled, partially_filled=t.partially_filled, rested=t.rested,
            cancelled=t.cancelled, rejected=dict(sorted(t.rejected.items())), trades=t.trades, deposits=t.deposits,
            volume={s: quantize_down(t.volume.get(s, Decimal(0)), world.places.get(r.quote, 8))
                    for s, r in world.rules.items()},
            last_prices={s: t.last_prices.get(s) for s in world.rules},
            fair_prices={s: world.rules[s].price(world.fair[s].now(), up=False) for s in world.rules},
            stopped_by=t.stopped_by, error=t.error,  # type: ignore[arg-type]
        )
