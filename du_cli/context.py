"""The CLI's view of one invocation: its settings, output format, credentials and service calls."""

from __future__ import annotations

import fcntl
import getpass
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer._click.globals import get_current_context

from du_core.actor import RequestContext
from du_core.config import Settings, load_settings
from du_core.errors import AuthRequired, InvalidInput, SessionExpired

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

T = TypeVar("T")


@dataclass
class Globals:
    """The root options, given before the group (`du --profile desk auth whoami`)."""

    profile: str | None = None
    database_url: str | None = None
    output: str | None = None


def root_globals() -> Globals:
    ctx = get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None:
        ctx = ctx.parent
    obj = ctx.obj if ctx is not None else None
    return obj if isinstance(obj, Globals) else Globals()


@lru_cache(maxsize=4)
def _settings(profile: str | None, database_url: str | None) -> Settings:
    return load_settings(profile=profile, database_url=database_url)


def settings() -> Settings:
    g = root_globals()
    return _settings(g.profile, g.database_url)


def engine() -> Engine:
    from du_core.db.engine import get_engine

    return get_engine(settings())


def request_context() -> RequestContext:
    try:
        who = f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # noqa: BLE001 - no user name is not worth failing a command over
        who = socket.gethostname()
    return RequestContext(client="cli", profile=settings().profile, device=who[:128])


def call(op: Callable[..., T], request: Any = None, *, auth: bool = True) -> T:
    """Run a service operation as the profile's logged-in user (or anonymously with auth=False).

    An expired access token is renewed once with the stored refresh token, under a file lock so
    that two commands of one profile never present the same refresh token twice.
    """
    from du_core.db.runner import run

    from du_cli import credentials

    eng, ctx = engine(), request_context()
    if not auth:
        return run(eng, op, request, context=ctx)
    stored = credentials.load(settings())
    if stored is None:
        raise AuthRequired("you are not logged in: du auth login (or set DU_TOKEN)")
    try:
        return run(eng, op, request, token=stored.access_token, context=ctx)
    except SessionExpired:
        if stored.source == "env" or not stored.refresh_token:
            raise
        renewed = refresh_stored(stored.access_token)
        return run(eng, op, request, token=renewed, context=ctx)


def refresh_stored(expired_access: str | None) -> str:
    """Rotate the stored refresh token and return the new access token."""
    from du_core.auth import service
    from du_core.auth.schemas import Refresh
    from du_core.db.runner import run
    from du_core.validation import parse

    from du_cli import credentials

    s = settings()
    lock_path = s.config_dir / "credentials" / f".{s.profile}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored = credentials.load(s)
        if stored is None or not stored.refresh_token:
            raise AuthRequired("you are not logged in: du auth login")
        if expired_access is not None and stored.access_token != expired_access:
            return stored.access_token  # another command refreshed meanwhile
        result = run(engine(), service.refresh, parse(Refresh, refresh_token=stored.refresh_token),
                     context=request_context())
        store_tokens(result.tokens, source=stored.source)
        return result.tokens.access_token


def store_tokens(tokens: Any, *, source: str = "keyring", insecure_storage: bool = False) -> str:
    from du_cli import credentials

    return credentials.save(
        settings(),
        credentials.StoredSession(
            access_token=tokens.access_token, refresh_token=tokens.refresh_token,
            access_expires_at=tokens.access_expires_at.isoformat(), user_id=str(tokens.user_id),
        ),
        insecure_storage=insecure_storage or source == "file",
    )


def read_secret(prompt: str, *, from_stdin: bool, confirm: bool = False, name: str = "password") -> str:
    """Read a secret from stdin (one line) or a hidden prompt; never from an argument.

    Raises:
        InvalidInput: stdin is not a terminal and --{name}-stdin was not given, or it was empty.
    """
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InvalidInput(f"no {name} on standard input")
        return line
    if not sys.stdin.isatty():
        raise InvalidInput(f"standard input is not a terminal: pass the {name} with --{name}-stdin")
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, type=str)


def confirm(question: str, *, yes: bool) -> None:
    """Ask before a destructive step; --yes skips; a non-interactive stdin never blocks.

    Raises:
        InvalidInput: no terminal to ask on and --yes not given.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise InvalidInput("this needs confirmation: repeat with --yes")
    if not typer.confirm(question, default=False):
        raise typer.Abort()
