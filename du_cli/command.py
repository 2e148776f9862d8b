"""Declaring a command: `@command(app)` adds --json/-o, renders the result, maps errors to exits.

A command function parses its options, calls one service through `context.call` and returns
the result; it never prints. Everything else (output format, error lines, exit codes) is here.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from du_cli.errors import report, report_domain
from du_cli.output import FORMATS, render

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (the same as -o json).")]
OutputOpt = Annotated[Optional[str], typer.Option("--output", "-o", help="Output format: table, json or csv.",
                                                  metavar="FORMAT")]


def output_format(json_flag: bool = False, output: str | None = None) -> str:
    """The format in force: --json, -o, the root options, DU_OUTPUT or the config file, or table."""
    from du_cli.context import root_globals

    if json_flag:
        return "json"
    chosen = output or root_globals().output or os.environ.get("DU_OUTPUT")
    if chosen is None:
        try:
            from du_cli.context import settings

            chosen = settings().output
        except Exception:  # noqa: BLE001 - a broken config file is reported by the command itself
            chosen = None
    return chosen if chosen in FORMATS else "table"


def wants_json() -> bool:
    """True when errors should be JSON: --json or -o json anywhere, or JSON by default."""
    argv = sys.argv[1:]
    if "--json" in argv or any(a in ("-ojson", "--output=json") for a in argv):
        return True
    for flag in ("-o", "--output"):
        if flag in argv and argv.index(flag) + 1 < len(argv) and argv[argv.index(flag) + 1] == "json":
            return True
    return os.environ.get("DU_OUTPUT") == "json"


def command(app: typer.Typer, name: str | None = None, *, title: str | None = None, **kwargs: Any) -> Callable:
    """Register `fn` as a command of `app` with the output options and the error boundary."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        # Typer reads the parameters' Annotated options, so string annotations are evaluated here;
        # the return annotation is left alone (it may name a type imported only for checking).
        sig = inspect.signature(fn)
        params = [
            p.replace(annotation=eval(p.annotation, fn.__globals__)) if isinstance(p.annotation, str) else p  # noqa: S307
            for p in sig.parameters.values()
        ]
        extra = [
            inspect.Parameter("json_flag", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonFlag),
            inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=OutputOpt),
        ]

        @functools.wraps(fn)
        def wrapper(*args: Any, json_flag: bool = False, output: str | None = None, **kw: Any) -> None:
            if output is not None and output not in FORMATS:
                report("usage_error", f"unknown output format {output!r}; use one of {', '.join(FORMATS)}",
                       as_json=json_flag)
                raise typer.Exit(2)
            fmt = output_format(json_flag, output)
            result = guarded(lambda: fn(*args, **kw), as_json=fmt == "json")
            guarded(lambda: render(result, fmt, title=title), as_json=fmt == "json")

        wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=[*params, *extra], return_annotation=inspect.Signature.empty)
        wrapper.__annotations__ = {p.name: p.annotation for p in [*params, *extra]}
        app.command(name, **kwargs)(wrapper)
        return fn

    return decorate


def guarded(thunk: Callable[[], Any], *, as_json: bool) -> Any:
    """Run `thunk`; turn any error into one line on stderr and the exit code of CLI.md."""
    from du_core.errors import DomainError

    try:
        return thunk()
    except DomainError as err:
        raise typer.Exit(report_domain(err, as_json=as_json)) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: a bug is one line, not a traceback
        if os.environ.get("DU_DEBUG", "") not in ("", "0", "false"):
            raise
        report("internal_error", f"internal error ({type(exc).__name__}); run again with DU_DEBUG=1 for details",
               as_json=as_json)
        raise typer.Exit(1) from None
