"""`du admin fx ...`: exchange rates."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from du_cli.command import command
from du_cli.commands.admin import app

fx_app = typer.Typer(help="Exchange rates: set one by hand, import the ECB's daily reference rates.",
                     no_args_is_help=True)
app.add_typer(fx_app, name="fx")


@command(fx_app, "set", title="Exchange rate")
def fx_set(
    base: Annotated[str, typer.Argument(help="The currency priced, e.g. EUR.", metavar="BASE")],
    quote: Annotated[str, typer.Argument(help="The currency it is priced in, e.g. USD.", metavar="QUOTE")],
    rate: Annotated[str, typer.Argument(help="How many QUOTE one BASE is worth, in plain digits: 1.0537.",
                                        metavar="RATE")],
    as_of: Annotated[Optional[str], typer.Option(
        "--as-of", help="When the rate was observed (ISO 8601; UTC without an offset; default now).",
        metavar="TIME")] = None,
):
    """Set the rate 1 BASE = RATE QUOTE (the inverse pair needs no rate of its own)."""
    from du_core.fx import service
    from du_core.fx.schemas import SetRate
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.set_rate, parse(SetRate, base=base, quote=quote, rate=rate, as_of=as_of))


@command(fx_app, "import", title="Imported rates")
def fx_import(url: Annotated[Optional[str], typer.Option(
        "--url", help="Where to fetch the daily rates XML (default: the European Central Bank's).")] = None):
    """Import the ECB's daily reference rates (EUR against each listed currency); repeats store nothing new."""
    from du_core.fx import service
    from du_core.fx.schemas import ImportRates
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.import_rates, parse(ImportRates, **({"url": url} if url is not None else {})))
