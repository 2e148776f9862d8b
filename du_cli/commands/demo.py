"""`du demo`: a ready-made market on the embedded database, with simulated traders keeping it live.

It starts the embedded database, makes sure there is an admin (bootstrapping one on an empty
platform) and logs it in to the current profile, creates and funds the simulated traders, imports
a generated candle history, prints what to try next, and runs the simulation until Ctrl-C or
--duration. Running it again reuses everything. What it prints as it goes is on stderr; the summary
of what it set up (and of the run) is the command's result.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from du_cli.command import command

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Engine

    from du_core.actor import Actor

DEFAULT_EMAIL = "admin@demo.example"  # .local is refused by the platform's email rule
ADMIN_PHONE = "+12025550100"
ADMIN_NAME = "Demo Admin"


def register(app: typer.Typer) -> None:
    """Add `du demo` to the root app."""
    command(app, "demo", title="Demo")(demo)


def demo(
    duration: Annotated[Optional[float], typer.Option(
        "--duration", help="Run the simulation this many seconds, then stop.", metavar="SECONDS")] = None,
    forever: Annotated[bool, typer.Option("--forever", help="Run the simulation until Ctrl-C (the default).")] = False,
    rate: Annotated[float, typer.Option("--rate", help="Orders a second of the simulated traders.")] = 20.0,
    no_simulate: Annotated[bool, typer.Option("--no-simulate", help="Set everything up, run nothing.")] = False,
    email: Annotated[str, typer.Option("--email", help="The demo admin's email.")] = DEFAULT_EMAIL,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the admin's password from standard input (default: ask on a terminal, "
                                 "or generate one for a new admin and show it once).")] = False,
    insecure_storage: Annotated[bool, typer.Option(
        "--insecure-storage", help="Keep the admin's session in a 0600 file instead of the OS keyring.")] = False,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the simulation and the history.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Run on an external database (--database-url, "
                                                    "DU_DATABASE_URL) without asking.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    tui: Annotated[Optional[bool], typer.Option(
        "--tui/--no-tui", help="Open the workstation on the live market while the simulation runs "
                               "(default: when run on a terminal).")] = None,
):
    """A live demo market: an admin, funded simulated traders, a candle history, and trading until Ctrl-C.

    Runs on the embedded database of the current profile (started if needed) and logs the admin in
    to the profile, so du trading orderbook BTC-USD works at once from another terminal. On an
    empty platform it bootstraps the admin; its password is read from --password-stdin, asked on
    a terminal, or generated and shown once. Running du demo again reuses all of it. The set-up
    and a live status line go to stderr; the result is the run's summary (with --json, everything
    that was set up too).
    """
    import random

    from du_core.errors import InvalidInput
    from du_core.simulation import prepare
    from du_core.simulation.demo import seed_history
    from du_core.simulation.schemas import DemoView
    from du_core.simulation.traders import load_rules

    from du_cli.commands.market_sim import ensure_finished, run_with_status, sim_config
    from du_cli.context import engine, settings

    s = settings()
    if s.database_url and not yes:
        from du_core.db.engine import describe

        what = (f"du demo fills a database with demo users and money, and this profile uses "
                f"{describe(s.database_url)}, not the embedded database")
        if not sys.stdin.isatty():
            raise InvalidInput(f"{what}: repeat with --yes to use it")
        if not typer.confirm(f"{what}. Use it anyway?", default=False):
            raise typer.Abort()
    config = sim_config(symbols="BTC-USD,ETH-USD", rate=rate, duration=duration, forever=forever or duration is None,
                        seed=seed if seed is not None else random.SystemRandom().randrange(2**31))
    where = _database()
    eng = engine()
    say = (lambda line: None) if quiet else _say
    admin, admin_email, created, logged_in = _admin(eng, email, password_stdin=password_stdin,
                                                    insecure_storage=insecure_storage, say=say)
    traders = prepare(eng, admin, config)
    say(f"traders   {config.makers} makers, {config.takers} takers (sim-maker-N, sim-taker-N@sim.example), "
        "funded with sandbox deposits")
    history = seed_history(eng, admin, load_rules(eng, config.symbols), seed=config.seed or 0)
    imported = [f"{h.symbol} {h.candles} x {h.interval}" for h in history if h.candles]
    say("history   " + (", ".join(imported) + " candles imported" if imported else "already in place"))
    view = DemoView(database=where, admin_email=admin_email, admin_created=created, logged_in=logged_in,
                    profile=s.profile, traders=[t.view() for t in traders], history=history,
                    next_commands=_next_commands(s.profile, config.symbols[0]))
    say("try, in another terminal:\n" + "\n".join(f"  {c}" for c in view.next_commands))
    if no_simulate:
        return view
    if tui is None:
        tui = sys.stdin.isatty() and sys.stdout.isatty() and _on_screen()
    if tui and not logged_in:
        say("the workstation needs the admin's session kept in the profile: run du demo --insecure-storage")
        tui = False
    say(f"simulating {', '.join(config.symbols)} at {config.rate:g} orders/s "
        + (f"for {config.duration:g} s" if config.duration else "until Ctrl-C"))
    if tui:
        if created and not password_stdin and sys.stdin.isatty():
            typer.prompt("Press Enter to open the workstation (the admin password above is shown only once)",
                         default="", show_default=False, prompt_suffix=" ", err=True)
        report = ensure_finished(_with_workstation(eng, traders, config, symbol=config.symbols[0]))
    else:
        report = ensure_finished(run_with_status(eng, traders, config, quiet=quiet))
    if _on_screen():  # the set-up was printed as it happened; what is news at the end is the run
        return report
    return view.model_copy(update={"simulation": report})


def _with_workstation(eng: Engine, traders: list[Any], config: Any, *, symbol: str) -> Any:
    """Run the simulation in the background while the workstation is open; leaving it ends both."""
    import threading

    from du_core.simulation import simulate

    from du_cli.commands.tui import session_hooks
    from du_cli.context import request_context, settings

    stop = threading.Event()
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(simulate(eng, traders, config, stop=stop)),
                              name="demo-simulation", daemon=True)
    runner.start()
    token, keep = session_hooks()
    from du_tui.app import DuApp

    try:
        DuApp(eng, token, symbol=symbol, context=request_context(), on_login=keep,
              preferences=settings().config_dir / "tui.json").run()
    finally:
        stop.set()
        runner.join()
    return result[0]


def _on_screen() -> bool:
    """Whether the result is rendered as a table (JSON and CSV get the whole DemoView)."""
    from typer._click.globals import get_current_context

    from du_cli.command import output_format

    ctx = get_current_context(silent=True)
    params = ctx.params if ctx is not None else {}
    return output_format(bool(params.get("json_flag")), params.get("output")) == "table"


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _database() -> str:
    """Start the embedded database if it is the one in use; describe the database."""
    from du_core.db import status as db
    from du_core.db.engine import describe

    from du_cli.context import settings

    s = settings()
    if s.database_url:
        return describe(s.database_url)
    started = db.start(s)
    return f"embedded ({started.data_dir})"


def _admin(eng: Engine, email: str, *, password_stdin: bool, insecure_storage: bool,
           say: Callable[[str], None]) -> tuple[Actor, str, bool, bool]:
    """The demo's admin: the profile's logged-in admin, else the one bootstrapped or logged in now.

    Returns the admin, its email, whether it was created now, whether the profile keeps its session.

    Raises:
        InvalidState: the profile is logged in as someone who is not an admin.
        InvalidInput: an admin exists, and its password can be neither asked nor read.
        InvalidCredentials, PermissionDenied: the password is wrong, or `email` is not an admin.
    """
    from du_core.auth import service as auth
    from du_core.errors import AuthError, InvalidState, PermissionDenied
    from du_core.simulation.demo import caller, has_admin

    from du_cli import credentials
    from du_cli.context import call, settings

    s = settings()
    if credentials.load(s) is not None:
        try:
            me = call(auth.whoami)
        except AuthError:
            me = None  # an ended session: log in again below
        if me is not None:
            if me.role != "admin":
                raise InvalidState(f"profile {s.profile} is logged in as {me.email}, who is not an admin: log out "
                                   "first (du auth logout), or run du --profile demo demo")
            say(f"admin     {me.email} (logged in to profile {s.profile})")
            return call(caller), me.email, False, True
    created = not has_admin(eng)
    if created:
        password = _new_password(email, from_stdin=password_stdin, say=say)
        from du_core.admin import service as admin_service
        from du_core.auth.schemas import Register
        from du_core.validation import parse

        call(admin_service.bootstrap, parse(Register, email=email, phone=ADMIN_PHONE, full_name=ADMIN_NAME,
                                             password=password, date_of_birth="1990-01-01", nationality="US"),
             auth=False)
    else:
        password = _existing_password(email, from_stdin=password_stdin)
    actor, logged_in = _log_in(eng, email, password, insecure_storage=insecure_storage)
    if not actor.is_admin:
        raise PermissionDenied(f"{email} is not an admin; give an admin's email with --email")
    say(f"admin     {email} ({'created; ' if created else ''}"
        f"{'logged in to profile ' + s.profile if logged_in else 'not logged in'})")
    return actor, email, created, logged_in


def _new_password(email: str, *, from_stdin: bool, say: Callable[[str], None]) -> str:
    """The new admin's password: from stdin, asked on a terminal, or generated and shown once."""
    import secrets

    from du_cli.context import read_secret

    if from_stdin:
        return read_secret("", from_stdin=True)
    if sys.stdin.isatty():
        chosen = typer.prompt(f"Password for the new admin {email} (12-128 characters; Enter: generate one)",
                              default="", show_default=False, hide_input=True)
        if chosen:
            if typer.prompt("Repeat it", default="", show_default=False, hide_input=True) != chosen:
                from du_core.errors import InvalidInput

                raise InvalidInput("the two passwords differ")
            return chosen
    generated = secrets.token_urlsafe(15)
    sys.stderr.write(f"admin password (shown once, keep it): {generated}\n"
                     f"  log in elsewhere with: du auth login --email {email}\n")
    return generated


def _existing_password(email: str, *, from_stdin: bool) -> str:
    from du_core.errors import InvalidInput

    from du_cli.context import read_secret

    if not from_stdin and not sys.stdin.isatty():
        raise InvalidInput(f"the platform already has an admin: log in as one first (du auth login --email {email}), "
                           "or give the password of --email with --password-stdin")
    return read_secret(f"Password of the admin {email}", from_stdin=from_stdin)


def _log_in(eng: Engine, email: str, password: str, *, insecure_storage: bool) -> tuple[Actor, bool]:
    """Log `email` in and keep the session in the profile if it can be kept; return the actor and whether it was."""
    from du_core.auth import service as auth
    from du_core.auth.schemas import Login
    from du_core.db.runner import run
    from du_core.errors import CredentialStoreUnavailable
    from du_core.simulation.demo import caller
    from du_core.validation import parse

    from du_cli.context import call, request_context, store_tokens

    result = call(auth.login, parse(Login, email=email, password=password), auth=False)
    actor = run(eng, caller, token=result.tokens.access_token, context=request_context())
    try:
        store_tokens(result.tokens, insecure_storage=insecure_storage)
    except CredentialStoreUnavailable as err:
        run(eng, auth.logout, actor=actor, context=request_context())  # a session nobody keeps is ended now
        _say(f"warning: the admin's session is not kept: {err.message}\n"
            f"  then: du auth login --email {email} --insecure-storage (or run du demo --insecure-storage)")
        return actor, False
    return actor, True


def _next_commands(profile: str, symbol: str) -> list[str]:
    """Commands worth trying against the demo, those of this release only."""
    from du_cli.completions import command_tree

    tree = command_tree()
    du = "du" if profile == "default" else f"du --profile {profile}"
    wanted = [("trading orderbook", f"trading orderbook {symbol}"), ("tui", "tui"),
              ("market prices", "market prices"), ("market history", f"market history {symbol} --interval 1h"),
              ("trading market-data", f"trading market-data {symbol}"), ("market serve", "market serve"),
              ("market watch", f"market watch {symbol}"), ("admin users list", "admin users list")]
    return [f"{du} {line}" for path, line in wanted if path in tree]
