"""The admin console driven with keys through Textual's Pilot, against a real database.

Every check of a change goes back to the core (as another process would see it), not only to what
the screen shows. The last tests hold the console's promise to everyone else: a standard user's
workstation has no way into it, whatever they press.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from tests.cli.test_trading import placed, trader
from tests.tui.helpers import app_for, as_user, console, place_as, screen_name, token_of, until

D = Decimal


def admin_token(du, home) -> str:
    du.user_as("admin", profile="ops")
    return token_of(home, "ops")


async def tab(pilot, screen, key: str, name: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: screen.query_one("TabbedContent").active == name, f"the {name} tab")


def cells(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def core_dashboard(engine, token):
    from du_core.admin.dashboard import dashboard

    return as_user(engine, token, dashboard)


def user_by_email(engine, token, email: str):
    from du_core.admin.service import users_list, users_show
    from du_core.users.schemas import UserId, UserQuery
    from du_core.validation import parse

    [row] = as_user(engine, token, users_list, parse(UserQuery, search=email)).items
    return as_user(engine, token, users_show, UserId(user_id=row.id))


def setting(engine, token, key: str) -> Any:
    from du_core.admin.service import settings_show

    return next(s.value for s in as_user(engine, token, settings_show) if s.key == key)


def add_users(engine, n: int, *, prefix: str = "bulk") -> list[str]:
    """Accounts made behind the platform's back: only rows to list, nobody logs in with them."""
    emails = [f"{prefix}-{i:02d}@example.com" for i in range(n)]
    with engine.begin() as conn:
        for i, email in enumerate(emails):
            uid = uuid.uuid4()
            conn.execute(text("INSERT INTO users (id, email, phone, password_hash, role, kyc_level)"
                              " VALUES (:id, :e, :p, 'x', 'standard', 0)"),
                         {"id": uid, "e": email, "p": f"+8492{uid.int % 10**7:07d}"})
    return emails


# the dashboard


def test_f4_opens_the_console_on_a_dashboard_whose_figures_are_the_cores(du, home, engine):
    token = admin_token(du, home)
    trader(du, "seller", BTC="1")
    trader(du, "buyer", USD="10000.00")
    placed(du, "seller", "BTC-USD", "--side", "sell", "--type", "limit", "--quantity", "0.1", "--price", "50000")
    placed(du, "buyer", "BTC-USD", "--side", "buy", "--type", "market", "--quantity", "0.04")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            shown = screen.query_one("AdminDashboard").view
            core = await asyncio.to_thread(core_dashboard, engine, token)
            moment = {"as_of", "since"}
            assert shown.model_dump(exclude=moment) == core.model_dump(exclude=moment)
            trading = cells(screen.query_one("#dash-trading"))
            assert ["USD", "1", "2000.00", "6.00"] in trading
            instruments = cells(screen.query_one("#dash-instruments"))
            assert ["BTC-USD", "trading", "50000.00", "1"] in instruments
            summary = str(screen.query_one("#dash-summary").render())
            assert "users 3" in summary and "admin 1 · standard 2" in summary and "open orders 1" in summary

    asyncio.run(scenario())


def test_the_dashboard_follows_trades_made_outside_the_app_without_a_key_press(du, home, engine):
    token = admin_token(du, home)
    trader(du, "seller", BTC="1")
    trader(du, "buyer", USD="10000.00")
    seller, buyer = token_of(home, "seller"), token_of(home, "buyer")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            trading = screen.query_one("#dash-trading")
            assert ["USD", "0", "0.00", "0.00"] in cells(trading)
            await asyncio.to_thread(place_as, engine, seller, symbol="BTC-USD", side="sell", type="limit",
                                    quantity="0.1", price="50000")
            await asyncio.to_thread(place_as, engine, buyer, symbol="BTC-USD", side="buy", type="market",
                                    quantity="0.02")
            await until(pilot, lambda: ["USD", "1", "1000.00", "3.00"] in cells(trading), "the trade counted",
                        timeout=8.0)
            assert ["BTC-USD", "trading", "50000.00", "1"] in cells(screen.query_one("#dash-instruments"))

    asyncio.run(scenario())


def test_halting_from_the_dashboard_asks_first_refuses_orders_then_resuming_accepts_them(du, home, engine):
    from du_core.errors import TradingDisabled

    token = admin_token(du, home)
    trader(du, "t", USD="10000.00")
    standard = token_of(home, "t")
    order = {"symbol": "BTC-USD", "side": "buy", "type": "limit", "quantity": "0.01", "price": "40000"}

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            dash = screen.query_one("AdminDashboard")
            assert dash.selected.symbol == "BTC-USD"
            await pilot.press("h")
            await until(pilot, lambda: screen_name(pilot) == "AdminConfirm", "the halt question")
            await pilot.press("n")  # not now: nothing changes
            await until(pilot, lambda: screen_name(pilot) == "AdminScreen", "the console again")
            await pilot.pause(0.3)
            assert (await asyncio.to_thread(core_dashboard, engine, token)).instruments[0].status == "trading"

            await pilot.press("h")
            await until(pilot, lambda: screen_name(pilot) == "AdminConfirm", "the halt question")
            await pilot.press("y")
            await until(pilot, lambda: dash.selected.status == "halted", "BTC-USD shown halted")
            assert ["BTC-USD", "halted", "-", "0"] in cells(screen.query_one("#dash-instruments"))
            with pytest.raises(TradingDisabled):
                await asyncio.to_thread(place_as, engine, standard, **order)

            await pilot.press("h")  # resuming stops nobody: no question
            await until(pilot, lambda: dash.selected.status == "trading", "BTC-USD shown trading")
            assert screen_name(pilot) == "AdminScreen"
            placed_order = await asyncio.to_thread(place_as, engine, standard, **order)
            assert placed_order.status == "open"

    asyncio.run(scenario())
    statuses = {i.symbol: i.status for i in core_dashboard(engine, token).instruments}
    assert statuses == {"BTC-USD": "trading", "ETH-BTC": "trading", "ETH-USD": "trading"}


def test_the_maintenance_switch_asks_before_turning_on_and_locks_out_standard_users(du, home, engine):
    from du_core.errors import MaintenanceMode
    from du_core.financial.service import balance

    token = admin_token(du, home)
    trader(du, "t", USD="100.00")
    standard = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            dash = screen.query_one("AdminDashboard")
            await pilot.press("m")
            await until(pilot, lambda: screen_name(pilot) == "AdminConfirm", "the maintenance question")
            await pilot.press("y")
            await until(pilot, lambda: dash.view.maintenance_mode, "maintenance shown on")
            assert "maintenance on" in str(screen.query_one("#dash-summary").render())
            assert await asyncio.to_thread(setting, engine, token, "maintenance_mode") is True
            with pytest.raises(MaintenanceMode):
                await asyncio.to_thread(as_user, engine, standard, balance)

            await pilot.press("m")  # turning it off needs no question
            await until(pilot, lambda: not dash.view.maintenance_mode, "maintenance shown off")
            assert screen_name(pilot) == "AdminScreen"

    asyncio.run(scenario())
    assert setting(engine, token, "maintenance_mode") is False
    assert as_user(engine, standard, balance).balances


# users


def test_users_are_searched_filtered_and_paged_through_the_core(du, home, engine):
    token = admin_token(du, home)
    emails = add_users(engine, 52)  # with the admin, 53: a page of 50 and one of 3
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET status = 'suspended' WHERE email = :e"), {"e": emails[7]})

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            await tab(pilot, screen, "2", "users")
            users = screen.query_one("AdminUsers")
            pager = screen.query_one("#users-pager")
            await until(pilot, lambda: users.page is not None, "the first page")
            assert (users.page.total, len(users.user_ids)) == (53, 50)
            assert str(pager.render()) == "page 1 of 2 · 53 users"

            first = users.user_ids
            await pilot.press("n")
            await until(pilot, lambda: users.page.page == 2, "page 2")
            assert len(users.user_ids) == 3 and str(pager.render()) == "page 2 of 2 · 53 users"
            assert not set(users.user_ids) & set(first)
            await pilot.press("n")  # there is no page 3
            await pilot.pause(0.2)
            assert users.page.page == 2
            await pilot.press("p")
            await until(pilot, lambda: users.page.page == 1, "back to page 1")

            await pilot.press("slash", *"bulk-1", "enter")  # bulk-10 .. bulk-19
            await until(pilot, lambda: users.page.total == 10, "the search's ten users")
            shown = [row[0] for row in cells(screen.query_one("#users-table"))]
            assert sorted(shown) == emails[10:20]

            await pilot.press("slash", "ctrl+u", "enter")  # no search text: everyone again
            await until(pilot, lambda: users.page.total == 53, "every user again")
            await pilot.press("slash", "tab", "enter")  # the status filter
            await pilot.press(*"sus", "enter")
            await until(pilot, lambda: users.page.total == 1, "the suspended user")
            assert cells(screen.query_one("#users-table"))[0][:4] == [emails[7], "", "standard", "suspended"]

            await pilot.press("slash", *"nobody-here", "enter")
            await until(pilot, lambda: users.page.total == 0, "an empty result")
            assert str(pager.render()) == "page 1 of 1 · 0 users"

    asyncio.run(scenario())


def test_kyc_level_and_role_change_from_the_detail_view_and_the_core_has_them(du, home, engine):
    token = admin_token(du, home)
    hoa = du.user_as("standard", profile="hoa", name="Nguyễn Thị Hoa")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            await tab(pilot, screen, "2", "users")
            users = screen.query_one("AdminUsers")
            await pilot.press("slash", *hoa["email"][:10], "enter")
            await until(pilot, lambda: users.page is not None and users.page.total == 1, "Hoa alone")
            await pilot.press("enter")
            detail = screen.query_one("AdminUserDetail")
            await until(pilot, lambda: detail.detail is not None and detail.has_focus_within, "Hoa's account")
            assert "Nguyễn Thị Hoa" in str(screen.query_one("#detail-body").render())

            await pilot.press("k", "enter", "down", "down", "enter")  # level 0 -> level 2
            await until(pilot, lambda: detail.detail.kyc_level == 2, "KYC level 2 shown")
            assert screen_name(pilot) == "AdminScreen"  # a KYC level asks nothing

            await pilot.press("r", "enter", *"prem", "enter")
            await until(pilot, lambda: screen_name(pilot) == "AdminConfirm", "the role question")
            await pilot.press("n")
            await until(pilot, lambda: screen_name(pilot) == "AdminScreen", "the console again")
            await until(pilot, lambda: screen.query_one("#detail-role").value == "standard", "the role select reset")
            assert (await asyncio.to_thread(user_by_email, engine, token, hoa["email"])).role == "standard"

            await pilot.press("r", "enter", *"prem", "enter")
            await until(pilot, lambda: screen_name(pilot) == "AdminConfirm", "the role question")
            await pilot.press("y")
            await until(pilot, lambda: detail.detail.role == "premium", "the premium role shown")
            table = screen.query_one("#users-table")
            await until(pilot, lambda: cells(table)[0][2] == "premium", "the row updated")

    asyncio.run(scenario())
    account = user_by_email(engine, token, hoa["email"])
    assert (account.role, account.kyc_level) == ("premium", 2)


def test_a_refused_role_change_shows_the_cores_reason_and_changes_nothing(du, home, engine):
    token = admin_token(du, home)
    me = du("--profile", "ops", "auth", "whoami", "--json").json()

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            await tab(pilot, screen, "2", "users")
            users = screen.query_one("AdminUsers")
            await until(pilot, lambda: users.page is not None, "the first page")
            await pilot.press("enter")  # the only user: the admin, the last one
            detail = screen.query_one("AdminUserDetail")
            await until(pilot, lambda: detail.detail is not None, "the admin's account")
            await pilot.press("r", "enter", *"staff", "enter", "y")
            await until(pilot, lambda: "last active admin" in detail.error, "the core's reason")
            assert "last active admin" in str(screen.query_one("#detail-message").render())
            await until(pilot, lambda: screen.query_one("#detail-role").value == "admin", "the role select reset")

    asyncio.run(scenario())
    assert user_by_email(engine, token, me["email"]).role == "admin"


# settings


def test_a_bad_setting_shows_the_cores_error_inline_and_a_good_one_is_saved(du, home, engine):
    token = admin_token(du, home)

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            await tab(pilot, screen, "3", "settings")
            editor = screen.query_one("AdminSettings")
            await until(pilot, lambda: bool(editor.settings), "the settings")
            table = screen.query_one("#settings-table")
            row = table.get_row_index("max_open_orders")
            await pilot.press(*["down"] * row, "enter")
            field = screen.query_one("#settings-value")
            await until(pilot, lambda: field.has_focus, "the editor")
            assert (editor.editing, field.value) == ("max_open_orders", "200")

            await pilot.press("end", "ctrl+u", *"lots", "enter")
            await until(pilot, lambda: bool(editor.error), "the core's error")
            assert editor.error == "max_open_orders takes a whole number; no setting was changed"
            assert "whole number" in str(screen.query_one("#settings-message").render())
            await pilot.press("ctrl+u", *"100001", "enter")
            await until(pilot, lambda: "between" in editor.error, "the bounds error")
            assert await asyncio.to_thread(setting, engine, token, "max_open_orders") == 200

            await pilot.press("ctrl+u", *"250", "enter")
            await until(pilot, lambda: not editor.editing, "the editor closed")
            assert editor.error == ""
            assert str(table.get_row("max_open_orders")[1]) == "250"
            assert "max_open_orders saved: 250" in str(screen.query_one("#settings-message").render())

    asyncio.run(scenario())
    assert setting(engine, token, "max_open_orders") == 250


# the audit trail


def test_an_audit_record_made_outside_the_app_appears_in_the_tail_without_a_key_press(du, home, engine):
    token = admin_token(du, home)
    hoa = du.user_as("standard", profile="hoa")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            await tab(pilot, screen, "4", "audit")
            audit = screen.query_one("AdminAudit")
            await until(pilot, lambda: bool(audit.records), "the tail")
            assert "admin.users_update" not in audit.actions
            r = du("--profile", "ops", "admin", "users", "update", hoa["id"], "--notes", "called them", "--json")
            assert r.exit_code == 0, r.stderr
            await until(pilot, lambda: audit.actions[:1] == ["admin.users_update"], "the CLI's record on top")
            top = cells(screen.query_one("#audit-table"))[0]
            assert top[1:3] == ["admin.users_update", "success"] and top[4] == f"user {hoa['id'][:12]}"

    asyncio.run(scenario())


def test_audit_verify_from_the_console_says_ok_for_an_intact_trail(du, home, engine):
    token = admin_token(du, home)

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            await tab(pilot, screen, "4", "audit")
            audit = screen.query_one("AdminAudit")
            await pilot.press("v")
            await until(pilot, lambda: audit.verification is not None, "the verification")
            assert audit.verification.ok
            assert str(screen.query_one("#audit-verify").render()).startswith("ok: ")

    asyncio.run(scenario())


def test_audit_verify_names_the_broken_chain_of_a_tampered_trail(du, home, engine):
    from tests.conftest import sql

    token = admin_token(du, home)
    du.user_as("standard", profile="hoa")
    sql(du, "UPDATE audit_trails SET action = 'auth.nothing' WHERE action = 'auth.register'", triggers_off=True)

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await console(pilot)
            await tab(pilot, screen, "4", "audit")
            audit = screen.query_one("AdminAudit")
            await pilot.press("v")
            await until(pilot, lambda: audit.verification is not None, "the verification")
            assert not audit.verification.ok
            shown = str(screen.query_one("#audit-verify").render())
            assert shown.startswith("BROKEN") and "chain" in shown and "seq" in shown

    asyncio.run(scenario())


# layout


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_every_tab_fits_the_terminal(du, home, engine, size):
    token = admin_token(du, home)

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=size) as pilot:
            screen = await console(pilot)
            instruments = screen.query_one("#dash-instruments")
            summary = screen.query_one("#dash-summary")
            # the figures arrive before the layout that makes room for them: wait for the next one
            await until(pilot, lambda: summary.region.height >= 5, "the summary laid out with its figures")
            assert instruments.region.bottom <= size[1] - 1 and instruments.size.height >= 5
            await tab(pilot, screen, "2", "users")
            users = screen.query_one("AdminUsers")
            await until(pilot, lambda: users.page is not None, "the first page")
            await pilot.press("enter")
            detail = screen.query_one("AdminUserDetail")
            await until(pilot, lambda: detail.detail is not None and detail.display, "the detail")
            await pilot.pause(0.1)
            # narrow: the account replaces the list; wide: they sit side by side
            assert users.display is (size[0] >= 120)
            assert detail.region.right <= size[0] and screen.query_one("#detail-kyc").region.bottom <= size[1] - 1

    asyncio.run(scenario())


# nobody else gets in


def palette_offers(app) -> list[str]:
    """The text of every command the open command palette lists, and of any other line it shows."""
    from textual.command import Command, CommandList

    options = app.screen.query_one(CommandList).options
    return [o.hit.text if isinstance(o, Command) else str(o.prompt) for o in options]


async def palette(pilot, query: str) -> list[str]:
    """Open the command palette, type `query`, and return what it offers (or its "No matches found")."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: screen_name(pilot) == "CommandPalette", "the command palette")
    await pilot.press(*query)
    await until(pilot, lambda: bool(palette_offers(pilot.app)), f"the palette's answer to {query!r}")
    await pilot.pause(0.2)
    return palette_offers(pilot.app)


def test_a_standard_user_has_no_way_into_the_admin_console(du, home, engine):
    from du_core.admin.dashboard import dashboard
    from du_core.errors import PermissionDenied
    from du_tui.screens.admin import AdminScreen

    trader(du, "t", USD="100.00")
    token = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, token)

        def no_console(after: str) -> None:
            assert "admin" not in app._modes, after
            for mode, stack in app._screen_stacks.items():
                assert not any(isinstance(s, AdminScreen) for s in stack), f"{after}: in mode {mode}"

        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
            assert app.user.role == "standard"
            await pilot.press("f4")
            await pilot.pause(0.2)
            assert screen_name(pilot) == "TraderScreen"
            no_console("f4")

            # every key of every binding the user's screens offer (but quitting), on every screen they have
            for mode in list(app._modes):
                app.switch_mode(mode)
                await pilot.pause(0.2)
                keys = {b.binding.key for b in app.active_bindings.values() if "quit" not in b.binding.action}
                assert "f4" not in {b.binding.key for b in app.active_bindings.values() if b.enabled
                                    and "open" in b.binding.action and "admin" in b.binding.action}
                for key in sorted(keys | {"f4"}):
                    app.screen.set_focus(None)
                    await pilot.press(key)
                    await pilot.pause(0.1)
                    no_console(f"{key} on {mode}")
                    while screen_name(pilot) not in ("TraderScreen", "PortfolioScreen"):
                        await pilot.press("escape")
                        await pilot.pause(0.1)

            # the palette has nothing about the console, however it is asked
            for query in ("admin", "Admin", "console", "F4"):
                offers = await palette(pilot, query)
                assert not [o for o in offers if "admin" in o.lower() or "console" in o.lower()], (query, offers)
                assert all("No matches found" in o for o in offers), (query, offers)
                await pilot.press("escape")

            # and running every command it offers (but Quit, and Screenshot, which writes a file) opens none
            offered = [o for o in await palette(pilot, "") if o not in ("Quit", "Screenshot")]
            await pilot.press("escape")
            assert {"Open Trade", "Open Portfolio"} <= set(offered)
            for title in offered:
                assert (await palette(pilot, title))[0] == title
                await pilot.press("enter")
                await pilot.pause(0.3)
                no_console(f"palette command {title}")
                while screen_name(pilot) not in ("TraderScreen", "PortfolioScreen"):
                    await pilot.press("escape")
                    await pilot.pause(0.1)
            no_console("everything")

    asyncio.run(scenario())
    with pytest.raises(PermissionDenied):
        as_user(engine, token, dashboard)  # and the core refuses it anyway
