"""`du auth`: accounts and sessions."""

from __future__ import annotations

from typing import Annotated, Optional
from uuid import UUID

import typer

from du_cli.command import command

app = typer.Typer(help="Accounts and sessions: register, log in, MFA, password reset.", no_args_is_help=True)
mfa_app = typer.Typer(help="Two-factor authentication with an authenticator app (TOTP).", no_args_is_help=True)
sessions_app = typer.Typer(help="Your live sessions: list them, sign one out.", no_args_is_help=True)
app.add_typer(mfa_app, name="mfa")
app.add_typer(sessions_app, name="sessions")

PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]
Email = Annotated[Optional[str], typer.Option("--email", help="The account's email address.")]
Phone = Annotated[Optional[str], typer.Option("--phone", help="The account's phone number, e.g. +84912345678.")]


@command(app, "register")
def register(
    email: Annotated[str, typer.Option("--email", help="Email address.")],
    phone: Annotated[str, typer.Option("--phone", help="Phone number with country code, e.g. +84912345678.")],
    full_name: Annotated[str, typer.Option("--full-name", help="Full legal name.")],
    date_of_birth: Annotated[str, typer.Option("--date-of-birth", help="YYYY-MM-DD.", metavar="DATE")],
    nationality: Annotated[str, typer.Option("--nationality", help="ISO country code, e.g. VN.")],
    referral_code: Annotated[Optional[str], typer.Option("--referral-code", help="A referrer's code.")] = None,
    password_stdin: PasswordStdin = False,
):
    """Create an account (role guest, KYC level 0); codes to verify email and phone are sent."""
    from du_core.auth import service
    from du_core.auth.schemas import Register
    from du_core.validation import parse

    from du_cli.context import call, read_secret

    request = parse(Register, email=email, phone=phone, full_name=full_name, date_of_birth=date_of_birth,
                    nationality=nationality, referral_code=referral_code, password="x" * 12)
    password = read_secret("Password (12-128 characters)", from_stdin=password_stdin, confirm=True)
    return call(service.register, request.model_copy(update={"password": _secret(password)}), auth=False)


def _secret(value: str):  # type: ignore[no-untyped-def]
    from pydantic import SecretStr

    return SecretStr(value)


@command(app, "login")
def login(
    email: Email = None,
    phone: Phone = None,
    otp: Annotated[Optional[str], typer.Option("--otp", help="The 6-digit code of your authenticator app.")] = None,
    password_stdin: PasswordStdin = False,
    insecure_storage: Annotated[bool, typer.Option(
        "--insecure-storage", help="Keep the session in a 0600 file instead of the OS keyring.")] = False,
):
    """Log in and keep the session in the OS keyring under the profile."""
    import sys

    from du_core.auth import service
    from du_core.auth.schemas import Login
    from du_core.errors import MfaRequired
    from du_core.validation import parse

    from du_cli import credentials
    from du_cli.context import call, read_secret, settings, store_tokens

    parse(Login, email=email, phone=phone, password="x" * 12, otp=otp)  # bad input fails before the prompt
    credentials.ensure_storable(settings(), insecure_storage=insecure_storage)
    password = read_secret("Password", from_stdin=password_stdin)
    request = parse(Login, email=email, phone=phone, password=password, otp=otp)
    try:
        result = call(service.login, request, auth=False)
    except MfaRequired as err:
        if otp is not None or not sys.stdin.isatty():
            raise MfaRequired(f"{err.message}: give it with --otp", details=err.details) from None
        code = typer.prompt("One-time code")
        result = call(service.login, parse(Login, email=email, phone=phone, password=password, otp=code), auth=False)
    store_tokens(result.tokens, insecure_storage=insecure_storage)
    return result.user


@command(app, "logout")
def logout():
    """Revoke this session on the server and forget it here."""
    from du_core.auth import service
    from du_core.errors import AuthRequired

    from du_cli import credentials
    from du_cli.context import call, settings

    try:
        result = call(service.logout)
    except AuthRequired:
        credentials.forget(settings())
        raise
    credentials.forget(settings())
    return result


@command(app, "refresh")
def refresh():
    """Rotate the session's tokens now (commands also do it by themselves when needed)."""
    from du_core.auth import service

    from du_cli.context import call, refresh_stored

    refresh_stored(None)
    return call(service.whoami)


@command(app, "whoami")
def whoami():
    """Show the logged-in account: role, KYC level, verification and MFA."""
    from du_core.auth import service

    from du_cli.context import call

    return call(service.whoami)


@command(app, "verify")
def verify(
    channel: Annotated[Optional[str], typer.Option("--channel", help="email or phone.")] = None,
    resend: Annotated[bool, typer.Option("--resend", help="Send a new code instead of checking one.")] = False,
    token: Annotated[bool, typer.Option("--token", help="Check a session token read from standard input "
                                                         "(or DU_TOKEN, or the stored session).")] = False,
    code_stdin: Annotated[bool, typer.Option("--code-stdin", help="Read the code from standard input.")] = False,
):
    """Verify your email or phone with the code sent to it; --token checks a token instead."""
    import os
    import sys

    from du_core.auth import service
    from du_core.auth.schemas import CheckToken, ResendCode, VerifyContact
    from du_core.errors import AuthRequired, InvalidInput
    from du_core.validation import parse

    from du_cli import credentials
    from du_cli.context import call, read_secret, settings

    if token:
        value = None if sys.stdin.isatty() else sys.stdin.readline().strip()
        if not value:
            value = os.environ.get("DU_TOKEN") or getattr(credentials.load(settings()), "access_token", None)
        if not value:
            raise AuthRequired("no token to check: pipe one on standard input, set DU_TOKEN or log in")
        return call(service.check_token, parse(CheckToken, token=value), auth=False)
    if channel is None:
        raise InvalidInput("say which contact to verify: --channel email or --channel phone")
    if resend:
        return call(service.resend_code, parse(ResendCode, channel=channel))
    code = read_secret("Code", from_stdin=code_stdin, name="code")
    return call(service.verify_contact, parse(VerifyContact, channel=channel, code=code))


@command(app, "forgot-password")
def forgot_password(email: Email = None, phone: Phone = None):
    """Send a single-use password reset token to the account's email address."""
    from du_core.auth import service
    from du_core.auth.schemas import ForgotPassword
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.forgot_password, parse(ForgotPassword, email=email, phone=phone), auth=False)


@command(app, "reset-password")
def reset_password(
    token_stdin: Annotated[bool, typer.Option("--token-stdin", help="Read the reset token from standard input "
                                                                     "(first line).")] = False,
    password_stdin: PasswordStdin = False,
):
    """Set a new password with a reset token; every session of the account is signed out."""
    from du_core.auth import service
    from du_core.auth.schemas import ResetPassword
    from du_core.validation import parse

    from du_cli.context import call, read_secret

    token = read_secret("Reset token", from_stdin=token_stdin, name="token")
    password = read_secret("New password", from_stdin=password_stdin, confirm=True)
    return call(service.reset_password, parse(ResetPassword, token=token, new_password=password), auth=False)


@command(app, "change-password")
def change_password(password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the current then the new password, one per line.")] = False):
    """Change your password; your other sessions are signed out."""
    from du_core.auth import service
    from du_core.auth.schemas import ChangePassword
    from du_core.validation import parse

    from du_cli.context import call, read_secret

    current = read_secret("Current password", from_stdin=password_stdin)
    new = read_secret("New password", from_stdin=password_stdin, confirm=True)
    return call(service.change_password, parse(ChangePassword, current_password=current, new_password=new))


@command(mfa_app, "enable")
def mfa_enable():
    """Create a TOTP secret for your authenticator app (confirm it with a code to turn MFA on)."""
    from du_core.auth import mfa

    from du_cli.context import call

    return call(mfa.enable)


OtpArg = Annotated[Optional[str], typer.Option("--otp", help="The current 6-digit code (asked for when omitted).")]


def _otp(value: str | None) -> str:
    import sys

    from du_core.errors import InvalidInput

    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise InvalidInput("give the code of your authenticator app with --otp")
    return typer.prompt("One-time code")


@command(mfa_app, "confirm")
def mfa_confirm(otp: OtpArg = None):
    """Turn MFA on with a first code from your authenticator app."""
    from du_core.auth import mfa
    from du_core.auth.schemas import MfaCode
    from du_core.validation import parse

    from du_cli.context import call

    return call(mfa.confirm, parse(MfaCode, otp=_otp(otp)))


@command(mfa_app, "disable")
def mfa_disable(otp: OtpArg = None):
    """Turn MFA off (needs a current code)."""
    from du_core.auth import mfa
    from du_core.auth.schemas import MfaCode
    from du_core.validation import parse

    from du_cli.context import call

    return call(mfa.disable, parse(MfaCode, otp=_otp(otp)))


@command(sessions_app, "list")
def sessions_list():
    """List your live sessions, newest first."""
    from du_core.auth import service

    from du_cli.context import call

    return call(service.list_sessions)



@command(sessions_app, "revoke")
def sessions_revoke(
    session_id: Annotated[Optional[UUID], typer.Argument(help="The session to sign out.")] = None,
    all_others: Annotated[bool, typer.Option("--all-others", help="Sign out every session but this one.")] = False,
):
    """Sign out one of your sessions, or all the others."""
    from du_core.auth import service
    from du_core.auth.schemas import RevokeSessions
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.revoke_sessions, parse(RevokeSessions, session_id=session_id, all_others=all_others))

