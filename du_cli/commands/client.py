"""`du client`."""

from __future__ import annotations

import typer

app = typer.Typer(help="client", no_args_is_help=True)
