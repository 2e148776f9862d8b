"""`du financial deposit|withdraw` and `du financial payments ...`."""

from __future__ import annotations

from typing import Annotated, Optional
from uuid import UUID

import typer

from du_cli.command import command
from du_cli.commands.financial import app, payments_app

AmountOpt = Annotated[str, typer.Option("--amount", help="Plain decimal amount, e.g. 1250.50 (at most the "
                                                         "currency's decimal places).", metavar="AMOUNT")]
CurrencyOpt = Annotated[str, typer.Option("--currency", help="Asset code, e.g. USD, EUR, BTC.", metavar="CODE")]
MethodOpt = Annotated[str, typer.Option("--method", help="Payment gateway: sandbox (settles at once) or manual "
                                                         "(an admin processes it).", metavar="METHOD")]
KeyOpt = Annotated[Optional[str], typer.Option(
    "--idempotency-key", help="Repeating the command with the same key returns the first result and moves "
                              "nothing again.", metavar="KEY")]
YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]
PaymentIdArg = Annotated[UUID, typer.Argument(help="The payment's id.", metavar="ID")]


@command(app, "deposit")
def deposit(amount: AmountOpt, currency: CurrencyOpt, method: MethodOpt, idempotency_key: KeyOpt = None,
            yes: YesOpt = False):
    """Deposit money (KYC level 1): sandbox credits it at once, manual once an admin processes it."""
    from du_core.payments import service
    from du_core.payments.schemas import Deposit
    from du_core.validation import parse

    from du_cli.context import call, confirm

    request = parse(Deposit, amount=amount, currency=currency, method=method, idempotency_key=idempotency_key)
    confirm(f"Deposit {amount} {request.currency.upper()} through {method}?", yes=yes)
    return call(service.deposit, request)


@command(app, "withdraw")
def withdraw(amount: AmountOpt, currency: CurrencyOpt, method: MethodOpt,
             destination: Annotated[str, typer.Option("--destination", help="Bank account or wallet address to "
                                                                            "pay out to.", metavar="DEST")],
             idempotency_key: KeyOpt = None, yes: YesOpt = False):
    """Withdraw money (KYC level 2, daily limit per level); the amount is held until the payment ends."""
    from du_core.payments import service
    from du_core.payments.schemas import Withdraw
    from du_core.validation import parse

    from du_cli.context import call, confirm

    request = parse(Withdraw, amount=amount, currency=currency, method=method, destination=destination,
                    idempotency_key=idempotency_key)
    confirm(f"Withdraw {amount} {request.currency.upper()} to {request.destination} through {method}?", yes=yes)
    return call(service.withdraw, request)


@command(payments_app, "status")
def status(payment_id: PaymentIdArg):
    """Show one of your payments (admins: any payment)."""
    from du_core.payments import service
    from du_core.payments.schemas import PaymentId
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.payments_status, parse(PaymentId, payment_id=payment_id))


@command(payments_app, "process")
def process(
    payment_id: PaymentIdArg,
    start: Annotated[bool, typer.Option("--start", help="Only mark it processing (the money is on its way).")] = False,
    fail: Annotated[bool, typer.Option("--fail", help="Fail it instead of completing it; a withdrawal's hold "
                                                      "is released.")] = False,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why it failed (with --fail).")] = None,
    reference: Annotated[Optional[str], typer.Option("--reference", help="The gateway's or bank's reference.",
                                                     metavar="REF")] = None,
):
    """Complete an open payment (admins): a deposit is credited, a withdrawal paid out."""
    from du_core.errors import InvalidInput
    from du_core.payments import service
    from du_core.payments.schemas import ProcessPayment
    from du_core.validation import parse

    from du_cli.context import call

    if start and fail:
        raise InvalidInput("--start and --fail exclude each other")
    outcome = "start" if start else "fail" if fail else "complete"
    request = parse(ProcessPayment, payment_id=payment_id, outcome=outcome, reason=reason,
                    gateway_reference=reference)
    return call(service.payments_process, request)


@command(payments_app, "cancel")
def cancel(payment_id: PaymentIdArg):
    """Cancel one of your pending payments (admins: any pending or processing one); a hold is released."""
    from du_core.payments import service
    from du_core.payments.schemas import PaymentId
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.payments_cancel, parse(PaymentId, payment_id=payment_id))


@command(payments_app, "history", title="Payments")
def history(
    status: Annotated[Optional[str], typer.Option("--status", help="pending, processing, completed, failed "
                                                                   "or cancelled.")] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", help="deposit or withdrawal.")] = None,
    currency: Annotated[Optional[str], typer.Option("--currency", help="Asset code.", metavar="CODE")] = None,
    page: Annotated[int, typer.Option("--page", help="Page number, from 1.")] = 1,
    limit: Annotated[int, typer.Option("--limit", help="Rows per page (1-200).")] = 50,
):
    """List your deposits and withdrawals, newest first."""
    from du_core.payments import service
    from du_core.payments.schemas import PaymentQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.payments_history, parse(PaymentQuery, status=status, kind=kind, currency=currency,
                                                page=page, limit=limit))
