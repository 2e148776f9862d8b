"""`du admin instruments ...`: list, add and change the exchange's pairs, halt and resume them."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from du_cli.command import command
from du_cli.commands.admin import app

instruments_app = typer.Typer(help="The exchange's pairs: list, add, change their rules, halt and resume trading.",
                              no_args_is_help=True)
app.add_typer(instruments_app, name="instruments")

SymbolArg = Annotated[str, typer.Argument(help="The pair, e.g. BTC-USD: two listed assets joined by a dash.",
                                          metavar="SYMBOL")]
BAND_HELP = "How far (a fraction: 0.05 is 5 %) a market order may trade from the best price at its arrival."


TickOpt = Annotated[str, typer.Option("--tick-size", help="Price step in the quote asset, e.g. 0.01.",
                                      metavar="N")]
LotOpt = Annotated[str, typer.Option("--lot-size", help="Quantity step in the base asset, e.g. 0.0001.",
                                     metavar="N")]
MinQtyOpt = Annotated[str, typer.Option("--min-quantity", help="Smallest order quantity (a multiple of the lot "
                                                               "size).", metavar="N")]
MaxQtyOpt = Annotated[str, typer.Option("--max-quantity", help="Largest order quantity.", metavar="N")]
MinNotionalOpt = Annotated[str, typer.Option("--min-notional", help="Smallest order value in the quote asset, "
                                                                    "e.g. 10.", metavar="N")]
NewTickOpt = Annotated[Optional[str], typer.Option("--tick-size", help="New price step.", metavar="N")]
NewLotOpt = Annotated[Optional[str], typer.Option("--lot-size", help="New quantity step.", metavar="N")]
NewMinQtyOpt = Annotated[Optional[str], typer.Option("--min-quantity", help="New smallest order quantity.",
                                                     metavar="N")]
NewMaxQtyOpt = Annotated[Optional[str], typer.Option("--max-quantity", help="New largest order quantity.",
                                                     metavar="N")]
NewMinNotionalOpt = Annotated[Optional[str], typer.Option("--min-notional", help="New smallest order value.",
                                                          metavar="N")]
BandOpt = Annotated[Optional[str], typer.Option("--price-band", help=BAND_HELP + " Default 0.05.", metavar="F")]


@command(instruments_app, "list", title="Instruments")
def instruments_list():
    """Every instrument with its status, rules and last price (the same as du trading pairs)."""
    from du_core.trading import info

    from du_cli.context import call

    return call(info.pairs)


@command(instruments_app, "add", title="Instrument")
def instruments_add(symbol: SymbolArg, tick_size: TickOpt, lot_size: LotOpt, min_quantity: MinQtyOpt,
                    max_quantity: MaxQtyOpt, min_notional: MinNotionalOpt, price_band: BandOpt = None):
    """List a new pair of two listed assets (see du admin assets list); it trades at once."""
    from du_core.trading import admin
    from du_core.trading.schemas import AddInstrument
    from du_core.validation import parse

    from du_cli.context import call

    band = {} if price_band is None else {"price_band": price_band}
    return call(admin.add_instrument, parse(AddInstrument, symbol=symbol, tick_size=tick_size, lot_size=lot_size,
                                            min_quantity=min_quantity, max_quantity=max_quantity,
                                            min_notional=min_notional, **band))


@command(instruments_app, "update", title="Instrument")
def instruments_update(symbol: SymbolArg, tick_size: NewTickOpt = None, lot_size: NewLotOpt = None,
                       min_quantity: NewMinQtyOpt = None, max_quantity: NewMaxQtyOpt = None,
                       min_notional: NewMinNotionalOpt = None,
                       price_band: Annotated[Optional[str], typer.Option("--price-band", help=BAND_HELP,
                                                                         metavar="F")] = None):
    """Change a pair's rules; only the options given change, and resting orders keep their terms."""
    from du_core.trading import admin
    from du_core.trading.schemas import UpdateInstrument
    from du_core.validation import parse

    from du_cli.context import call

    return call(admin.update_instrument, parse(
        UpdateInstrument, symbol=symbol, tick_size=tick_size, lot_size=lot_size, min_quantity=min_quantity,
        max_quantity=max_quantity, min_notional=min_notional, price_band=price_band))


def _set_status(symbol: str, status: str):  # noqa: ANN202 - returns the core's InstrumentView
    from du_core.trading import admin
    from du_core.trading.schemas import UpdateInstrument
    from du_core.validation import parse

    from du_cli.context import call

    return call(admin.update_instrument, parse(UpdateInstrument, symbol=symbol, status=status))


@command(instruments_app, "halt", title="Instrument")
def halt(symbol: SymbolArg):
    """Stop trading a pair: new orders and changes exit 8 (trading_disabled); cancels still work."""
    return _set_status(symbol, "halted")


@command(instruments_app, "resume", title="Instrument")
def resume(symbol: SymbolArg):
    """Resume trading a halted pair."""
    return _set_status(symbol, "trading")
