"""`du admin`: platform administration."""

from __future__ import annotations

from typing import Annotated, Any, Optional
from uuid import UUID

import typer

from du_cli.command import command
from du_cli.commands.users import LimitOpt, PageOpt, UserIdArg, add_account_commands

app = typer.Typer(help="Platform administration: the first admin, accounts, settings, the audit trail.",
                  no_args_is_help=True)
users_app = typer.Typer(help="Accounts: list, show, change status, KYC level, role or notes.", no_args_is_help=True)
settings_app = typer.Typer(help="Platform settings: maintenance, trading, fees, limits.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail: read it, verify it.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(settings_app, name="settings")
app.add_typer(audit_app, name="audit")


@command(app, "bootstrap")
def bootstrap(
    email: Annotated[str, typer.Option("--email", help="Email address.")],
    phone: Annotated[str, typer.Option("--phone", help="Phone number with country code, e.g. +84912345678.")],
    full_name: Annotated[str, typer.Option("--full-name", help="Full legal name.")],
    date_of_birth: Annotated[str, typer.Option("--date-of-birth", help="YYYY-MM-DD.", metavar="DATE")],
    nationality: Annotated[str, typer.Option("--nationality", help="ISO country code, e.g. VN.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input.")] = False,
):
    """Create the first admin of an empty platform (refused once any admin exists)."""
    from pydantic import SecretStr

    from du_core.admin import service
    from du_core.auth.schemas import Register
    from du_core.validation import parse

    from du_cli.context import call, read_secret

    request = parse(Register, email=email, phone=phone, full_name=full_name, date_of_birth=date_of_birth,
                    nationality=nationality, password="x" * 12)  # bad input fails before the prompt
    password = read_secret("Password (12-128 characters)", from_stdin=password_stdin, confirm=True)
    return call(service.bootstrap, request.model_copy(update={"password": SecretStr(password)}), auth=False)


@command(app, "dashboard", title="Dashboard")
def dashboard():
    """Show the platform at a glance: accounts, 24 h trading by quote currency, live orders, instruments."""
    from du_core.admin.dashboard import dashboard as platform_dashboard

    from du_cli.context import call

    return call(platform_dashboard)


def _account_operations() -> tuple[Any, Any]:
    from du_core.admin import service

    return service.users_list, service.users_show


add_account_commands(users_app, _account_operations)


@command(users_app, "update")
def users_update(
    user_id: UserIdArg,
    status: Annotated[Optional[str], typer.Option(
        "--status", help="active, suspended or closed (suspending or closing signs the user out).")] = None,
    kyc_level: Annotated[Optional[int], typer.Option("--kyc-level", help="KYC level, 0 to 3.")] = None,
    role: Annotated[Optional[str], typer.Option("--role", help="The user's new role.")] = None,
    notes: Annotated[Optional[str], typer.Option("--notes", help="Admin notes (up to 2000 characters; "
                                                                 "empty clears them).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before closing an account.")] = False,
):
    """Change an account's status, KYC level, role or notes; only the options given change."""
    from du_core.admin import service
    from du_core.admin.schemas import UpdateUser
    from du_core.validation import parse

    from du_cli.context import call, confirm

    request = parse(UpdateUser, user_id=user_id, status=status, kyc_level=kyc_level, role=role, notes=notes)
    if request.status == "closed":
        confirm(f"Close account {user_id}? A closed account cannot be reopened.", yes=yes)
    return call(service.users_update, request)


@command(settings_app, "show", title="Settings")
def settings_show():
    """Show every setting with its value, default, type and meaning."""
    from du_core.admin import service

    from du_cli.context import call

    return call(service.settings_show)


@command(settings_app, "update", title="Settings")
def settings_update(
    pairs: Annotated[list[str], typer.Argument(help="KEY=VALUE pairs, e.g. maintenance_mode=true.",
                                               metavar="KEY=VALUE...")],
):
    """Change settings: all the pairs given, or none of them when one is bad."""
    from du_core.admin import service
    from du_core.admin.schemas import UpdateSettings
    from du_core.errors import InvalidInput
    from du_core.validation import parse

    from du_cli.context import call

    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"expected KEY=VALUE, got {pair!r}")
        if key in values:
            raise InvalidInput(f"{key} is given twice")
        values[key] = value
    return call(service.settings_update, parse(UpdateSettings, values=values))


@command(audit_app, "list", title="Audit trail")
def audit_list(
    actor: Annotated[Optional[UUID], typer.Option("--actor", help="Records made by this user id.")] = None,
    action: Annotated[Optional[str], typer.Option("--action", help="An operation name, e.g. admin.users_update; "
                                                                   "a trailing * matches a prefix (auth.*).")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="Records about this id.")] = None,
    outcome: Annotated[Optional[str], typer.Option("--outcome", help="success, denied or failed.")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="From this time (ISO 8601; UTC without "
                                                                 "an offset).", metavar="TIME")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Up to this time (ISO 8601).",
                                                 metavar="TIME")] = None,
    page: PageOpt = 1,
    limit: LimitOpt = 50,
):
    """List audit records, newest first."""
    from du_core.admin import service
    from du_core.admin.schemas import AuditQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.audit_list, parse(AuditQuery, actor_id=actor, action=action, target_id=target,
                                          outcome=outcome, since=since, until=until, page=page, limit=limit))


@command(audit_app, "verify")
def audit_verify():
    """Recompute every hash chain; exit 6 (audit_tampered) naming the first bad record if one breaks."""
    from du_core.admin import service

    from du_cli.context import call

    result = call(service.audit_verify)
    service.ensure_intact(result)
    return result


# The books and FX rates register their sub-commands on this app.
from du_cli.commands import admin_fx, admin_instruments, admin_ledger  # noqa: E402, F401
