"""`du admin ledger ...` and `du admin assets ...`: the books."""

from __future__ import annotations

from typing import Annotated

import typer

from du_cli.command import command
from du_cli.commands.admin import app

ledger_app = typer.Typer(help="The books: verify every balance against its postings, release expired holds.",
                         no_args_is_help=True)
assets_app = typer.Typer(help="Assets: the currencies and coins the platform keeps books in.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(assets_app, name="assets")


@command(ledger_app, "verify", title="Ledger verification")
def verify():
    """Recompute every balance from the postings; exit 6 (ledger_drift) naming the first problem if any."""
    from du_core.ledger import service

    from du_cli.context import call

    result = call(service.ledger_verify)
    service.ensure_balanced(result)
    return result


@command(ledger_app, "expire-holds", title="Expired holds")
def expire_holds(
    limit: Annotated[int, typer.Option("--limit", help="Release at most this many holds (1-10000); "
                                                       "more_due says whether to run again.")] = 500,
):
    """Release pending holds whose expiry has passed back to their owners' available balances."""
    from du_core.ledger import service
    from du_core.ledger.schemas import ExpireHolds
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.ledger_expire_holds, parse(ExpireHolds, limit=limit))


@command(assets_app, "list", title="Assets")
def assets_list():
    """The listed currencies and coins with their decimal places (the same as du financial assets)."""
    from du_core.financial import service

    from du_cli.context import call

    return call(service.list_assets)


@command(assets_app, "add", title="Asset")
def assets_add(
    code: Annotated[str, typer.Argument(help="The code users type, 2-10 letters and digits (e.g. USDC).",
                                        metavar="CODE")],
    name: Annotated[str, typer.Option("--name", help="Full name, e.g. \"USD Coin\".")],
    kind: Annotated[str, typer.Option("--kind", help="fiat or crypto.")],
    precision: Annotated[int, typer.Option("--precision", help="Decimal places of an amount, 0 to 18.")],
):
    """Add a currency or coin (refused with exit 6 when the code exists)."""
    from du_core.ledger import service
    from du_core.ledger.schemas import AddAsset
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.assets_add, parse(AddAsset, code=code, name=name, kind=kind, precision=precision))
