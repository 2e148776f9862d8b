"""`du users`: user management (admins)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional
from uuid import UUID

import typer

from du_cli.command import command

app = typer.Typer(help="User management: list and show accounts, set roles, read a user's activity.",
                  no_args_is_help=True)

UserIdArg = Annotated[UUID, typer.Argument(help="The user's id.", metavar="ID")]
StatusOpt = Annotated[Optional[str], typer.Option("--status", help="Only accounts in this status: "
                                                                   "active, suspended or closed.")]
RoleFilter = Annotated[Optional[str], typer.Option("--role", help="Only accounts with this role.")]
SearchOpt = Annotated[Optional[str], typer.Option("--search", help="Text found in the email, phone or full name.")]
PageOpt = Annotated[int, typer.Option("--page", help="Page number, from 1.")]
LimitOpt = Annotated[int, typer.Option("--limit", help="Rows per page (1-200).")]


def add_account_commands(target: typer.Typer, operations: Callable[[], tuple[Any, Any]]) -> None:
    """Add `list` and `show` to `target`; `operations()` imports the (list, show) services to call.

    `du users` and `du admin users` offer the same views under two operations of the permission
    table, so that a permission can be granted for one door and not the other.
    """

    @command(target, "list", title="Users")
    def list_users(status: StatusOpt = None, role: RoleFilter = None, search: SearchOpt = None,
                   page: PageOpt = 1, limit: LimitOpt = 50):
        """List accounts, newest first."""
        from du_core.users.schemas import UserQuery
        from du_core.validation import parse

        from du_cli.context import call

        return call(operations()[0], parse(UserQuery, status=status, role=role, search=search, page=page,
                                           limit=limit))

    @command(target, "show")
    def show(user_id: UserIdArg):
        """Show one account: profile, verification, MFA, live sessions, last login."""
        from du_core.users.schemas import UserId
        from du_core.validation import parse

        from du_cli.context import call

        return call(operations()[1], parse(UserId, user_id=user_id))


def _user_operations() -> tuple[Any, Any]:
    from du_core.users import service

    return service.list_users, service.show_user


add_account_commands(app, _user_operations)


@command(app, "role")
def role(
    user_id: UserIdArg,
    role: Annotated[str, typer.Option("--role", help="guest, read_only, standard, premium, staff, compliance "
                                                     "or admin.")],
    permission: Annotated[Optional[list[str]], typer.Option(
        "--permission", help="An extra operation the user may run, e.g. users.show (repeat for more; "
                             "replaces the current list).")] = None,
    no_permissions: Annotated[bool, typer.Option("--no-permissions",
                                                 help="Remove every extra permission.")] = False,
):
    """Set a user's role and, with --permission or --no-permissions, their extra permissions."""
    from du_core.errors import InvalidInput
    from du_core.users import service
    from du_core.users.schemas import SetRole
    from du_core.validation import parse

    from du_cli.context import call

    if permission and no_permissions:
        raise InvalidInput("give --permission or --no-permissions, not both")
    permissions = [] if no_permissions else (list(permission) if permission else None)
    return call(service.set_role, parse(SetRole, user_id=user_id, role=role, permissions=permissions))


@command(app, "activity", title="Activity")
def activity(user_id: UserIdArg, page: PageOpt = 1, limit: LimitOpt = 50):
    """A user's audit records (made by them or about them), newest first."""
    from du_core.users import service
    from du_core.users.schemas import ActivityQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.user_activity, parse(ActivityQuery, user_id=user_id, page=page, limit=limit))
