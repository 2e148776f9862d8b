"""The login screen driven with keys through Textual's Pilot, against a real database."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pyotp

from tests.conftest import sql
from tests.tui.helpers import screen_name, until

PASSWORD = "a long Pass phrase 42"
EMAIL = "hoa@example.com"
PHONE = "+84912345678"


class Held:
    """A session kept in memory: AuthRequired until the app's login handed one over."""

    def __init__(self) -> None:
        self.result: Any = None

    def token(self, expired: str | None) -> str:
        from du_core.errors import AuthRequired

        if self.result is None:
            raise AuthRequired("you are not logged in")
        return self.result.tokens.access_token

    def keep(self, result: Any) -> None:
        self.result = result


def app_without_session(engine) -> tuple[Any, Held]:
    from du_tui.app import DuApp

    held = Held()
    return DuApp(engine, held.token, on_login=held.keep, live=False), held


def standard_user(du, email: str = EMAIL, phone: str = PHONE) -> None:
    du.register(email, phone=phone)
    du.set_role(email, "standard")


async def login_screen(pilot) -> Any:
    """The login screen once it is ready for typing: the identifier field has the focus."""
    await until(pilot, lambda: screen_name(pilot) == "LoginScreen", "the login screen")
    screen = pilot.app.screen
    await until(pilot, lambda: pilot.app.focused is not None and pilot.app.focused.id == "identifier",
                "the identifier field focused")
    return screen


def message(screen) -> str:
    return str(screen.query_one("#message").render())


async def type_credentials(pilot, identifier: str, password: str = PASSWORD) -> None:
    await pilot.press(*identifier, "tab", *password, "enter")


def test_a_user_without_a_session_logs_in_with_keys_and_lands_on_the_trader_screen(du, engine):
    standard_user(du)

    async def scenario() -> None:
        app, held = app_without_session(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await login_screen(pilot)
            assert screen.query_one("#password").password
            await type_credentials(pilot, EMAIL)
            await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
            assert app.user is not None and app.user.email == EMAIL
            assert held.result is not None and held.result.user.email == EMAIL

    asyncio.run(scenario())


def test_a_phone_number_logs_in_as_well_as_an_email(du, engine):
    standard_user(du)

    async def scenario() -> None:
        app, _ = app_without_session(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await login_screen(pilot)
            await type_credentials(pilot, PHONE)
            await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
            assert app.user is not None and app.user.phone == PHONE

    asyncio.run(scenario())


def test_a_wrong_password_shows_the_cores_message_and_clears_the_password(du, engine):
    standard_user(du)

    async def scenario() -> None:
        app, held = app_without_session(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await login_screen(pilot)
            await type_credentials(pilot, EMAIL, "not the password at all")
            await until(pilot, lambda: "wrong" in message(screen), "the core's message")
            assert message(screen) == "wrong email, phone or password"
            assert screen.query_one("#message").has_class("error")
            assert screen.query_one("#password").value == ""
            assert screen.query_one("#identifier").value == EMAIL
            assert app.focused is screen.query_one("#password")
            await pilot.pause(0.2)
            assert screen_name(pilot) == "LoginScreen"
            assert app.user is None and held.result is None

    asyncio.run(scenario())


def test_a_second_submit_while_a_login_is_in_flight_sends_nothing(du, engine):
    import psycopg

    standard_user(du)
    # holding the users table keeps the first attempt in flight for as long as the test needs
    blocker = psycopg.connect(du.url.replace("postgresql+psycopg://", "postgresql://"))
    blocker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")

    async def scenario() -> None:
        app, _ = app_without_session(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await login_screen(pilot)
            box = screen.query_one("#login-box")
            await pilot.press(*EMAIL, "tab", *"not the password at all", "enter")
            await until(pilot, lambda: box.disabled and any(w.state.name == "RUNNING" for w in screen.workers),
                        "the attempt in flight")
            await pilot.press("enter")
            screen.submit()  # as an enter or a click would, were the form not disabled
            await pilot.pause(0.2)
            blocker.rollback()
            await until(pilot, lambda: "wrong" in message(screen), "the core's message")
            assert not box.disabled
            await pilot.pause(0.5)

    try:
        asyncio.run(scenario())
    finally:
        blocker.close()
    [(failed,)] = sql(du, "SELECT count(*) FROM audit_trails WHERE action = 'auth.login' AND outcome = 'failed'")
    assert failed == 1


def test_empty_fields_are_asked_for_without_calling_the_core(du, engine):
    standard_user(du)

    async def scenario() -> None:
        app, _ = app_without_session(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await login_screen(pilot)
            await pilot.press("enter")
            assert message(screen) == "enter your email or phone"
            await pilot.press(*EMAIL, "enter")
            assert message(screen) == "enter your password"
            assert app.focused is screen.query_one("#password")

    asyncio.run(scenario())
    assert sql(du, "SELECT count(*) FROM audit_trails WHERE action = 'auth.login'") == [(0,)]


def test_an_mfa_account_is_asked_for_the_code_and_a_wrong_code_is_refused(du, engine):
    du.register(EMAIL, phone=PHONE)
    du.set_role(EMAIL, "standard")
    assert du.login(EMAIL).exit_code == 0
    totp = pyotp.TOTP(du("auth", "mfa", "enable", "--json").json()["secret"])
    assert du("auth", "mfa", "confirm", "--otp", totp.now(), "--json").exit_code == 0
    live = {totp.at(time.time() + step * 30) for step in range(-2, 3)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in live)

    async def scenario() -> None:
        app, held = app_without_session(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await login_screen(pilot)
            otp = screen.query_one("#otp")
            assert not otp.display
            await type_credentials(pilot, EMAIL)
            await until(pilot, lambda: otp.display and app.focused is otp, "the one-time code field")
            assert "6-digit code" in message(screen)
            assert screen_name(pilot) == "LoginScreen" and held.result is None

            await pilot.press(*wrong, "enter")
            await until(pilot, lambda: "wrong" in message(screen), "the core's message")
            assert message(screen) == "wrong one-time code"
            assert (screen.query_one("#password").value, otp.value) == ("", "")
            assert held.result is None

            # confirm used the current step's code; the next step's is inside the drift window
            await pilot.press(*PASSWORD, "tab", *totp.at(time.time() + 30), "enter")
            await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
            assert app.user is not None and app.user.email == EMAIL and app.user.mfa_enabled

    asyncio.run(scenario())


def test_escape_on_the_login_screen_exits_without_logging_in(du, engine):
    standard_user(du)

    async def scenario() -> None:
        app, held = app_without_session(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await login_screen(pilot)
            await pilot.press(*EMAIL, "escape")
            await until(pilot, lambda: app.return_code is not None, "the app to exit")
        assert app.user is None and held.result is None

    asyncio.run(scenario())
    assert sql(du, "SELECT count(*) FROM auth_sessions") == [(0,)]


def test_du_tui_without_a_session_logs_in_and_keeps_the_session_for_the_profile(du, monkeypatch):
    from du_tui.app import DuApp

    standard_user(du)
    assert du("--profile", "desk", "auth", "whoami", "--json").exit_code == 5
    seen: dict[str, Any] = {}

    async def drive(app: DuApp) -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await login_screen(pilot)
            await type_credentials(pilot, EMAIL)
            await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
            seen["user"] = app.user.email if app.user else None

    # `du tui` builds the app as usual; Pilot drives it in place of a terminal
    monkeypatch.setattr(DuApp, "run", lambda self: asyncio.run(drive(self)))
    r = du("--profile", "desk", "tui", "--insecure-storage")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    assert seen == {"user": EMAIL}
    who = du("--profile", "desk", "auth", "whoami", "--json")
    assert who.exit_code == 0, who.stderr
    assert who.json()["email"] == EMAIL
    assert du("auth", "whoami", "--json").exit_code == 5, "only the profile it ran under is logged in"


def test_session_hooks_ask_for_a_login_until_one_is_stored(du):
    from du_core.errors import AuthRequired

    from du_cli.commands.tui import session_hooks

    standard_user(du)
    token, _ = session_hooks(insecure_storage=True)
    try:
        token(None)
    except AuthRequired:
        pass
    else:
        raise AssertionError("a profile without a session has no token")
    assert du.login(EMAIL).exit_code == 0
    assert token(None).startswith("dua_")


async def logged_in_on_trader(pilot) -> Any:
    await login_screen(pilot)
    await type_credentials(pilot, EMAIL)
    await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
    return pilot.app.screen


def test_a_session_ended_elsewhere_asks_once_to_log_in_again_and_the_screen_reads_again(du, engine):
    from du_core.auth.service import logout
    from du_core.db.runner import run

    standard_user(du)

    async def scenario() -> None:
        app, held = app_without_session(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            trader_screen = await logged_in_on_trader(pilot)
            first = held.result.tokens.access_token
            run(engine, logout, token=first)  # e.g. `du auth logout` in another terminal
            trader_screen.load()
            trader_screen.load()  # two failing reads: one question
            await until(pilot, lambda: screen_name(pilot) == "LoginScreen", "the login screen again")
            await pilot.pause(0.3)
            assert [s for s in app.screen_stack if type(s).__name__ == "LoginScreen"] == [app.screen]
            assert [n.title for n in app._notifications] == ["session ended"]
            await type_credentials(pilot, EMAIL)
            await until(pilot, lambda: app.screen is trader_screen, "back on the same trader screen")
            assert held.result.tokens.access_token != first, "the new session is kept"
            entry = trader_screen.query_one("OrderEntry")
            await until(pilot, lambda: entry.symbol == "BTC-USD", "the screen's reads done with the new session")
            assert app.is_running

    asyncio.run(scenario())


def test_logging_in_again_as_someone_else_closes_the_workstation_rather_than_mixing_accounts(du, engine):
    from du_core.auth.service import logout
    from du_core.db.runner import run

    standard_user(du)
    standard_user(du, "lan@example.com", "+84912345679")

    async def scenario() -> None:
        app, held = app_without_session(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            trader_screen = await logged_in_on_trader(pilot)
            run(engine, logout, token=held.result.tokens.access_token)
            trader_screen.load()
            await login_screen(pilot)
            await type_credentials(pilot, "lan@example.com")
            await until(pilot, lambda: not app.is_running, "the app closed")
        assert held.result.user.email == "lan@example.com", "her session is kept for the next start"

    asyncio.run(scenario())
