"""`du users`: admins manage accounts, roles and extra permissions; nobody else reaches them."""

from __future__ import annotations

import uuid

import pytest


def member(du, role: str, profile: str, name: str = "Trần Thị Hoa") -> dict:
    """Register a user, give them `role` and log them in under `profile`."""
    return du.user_as(role, profile=profile, name=name)


@pytest.fixture
def admin(du):
    return du.user_as("admin")


def test_a_standard_user_is_denied_the_user_list_with_exit_5(du):
    du.user_as("standard")
    r = du("users", "list", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied")
    assert "users.list" in r.error()["message"]


def test_an_admin_gets_the_user_list(du, admin):
    hoa = member(du, "standard", "hoa")
    r = du("users", "list", "--json")
    assert r.exit_code == 0, r.stderr
    page = r.json()
    assert {u["id"] for u in page["items"]} == {admin["id"], hoa["id"]}
    assert (page["page"], page["limit"], page["total"]) == (1, 50, 2)
    r = du("users", "list", "--status", "active", "--role", "standard", "--json")
    assert [u["id"] for u in r.json()["items"]] == [hoa["id"]]


def test_users_show_and_admin_users_show_agree(du, admin):
    hoa = member(du, "standard", "hoa")
    plain = du("users", "show", hoa["id"], "--json").json()
    assert plain == du("admin", "users", "show", hoa["id"], "--json").json()
    assert (plain["role"], plain["permissions"], plain["active_sessions"]) == ("standard", [], 1)


@pytest.mark.parametrize("command", [("users", "show"), ("users", "activity"), ("admin", "users", "show")])
def test_a_user_cannot_reach_another_users_data(du, command):
    other = member(du, "standard", "other")
    du.user_as("staff")
    r = du(*command, other["id"], "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied")
    assert other["email"] not in r.stderr


def test_not_logged_in_users_commands_ask_for_a_login(du):
    r = du("users", "list", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "auth_required")


def test_admin_sets_a_role_and_the_user_holds_it_at_once(du, admin):
    hoa = member(du, "guest", "hoa")
    r = du("users", "role", hoa["id"], "--role", "premium", "--json")
    assert (r.exit_code, r.json()["role"]) == (0, "premium")
    assert du("--profile", "hoa", "auth", "whoami", "--json").json()["role"] == "premium"
    (entry,) = du("admin", "audit", "list", "--action", "users.role", "--json").json()["items"]
    assert (entry["old_values"], entry["new_values"], entry["target_id"]) == (
        {"role": "guest"}, {"role": "premium"}, hoa["id"])


def test_an_extra_permission_opens_exactly_that_operation(du, admin):
    hoa = member(du, "standard", "hoa")
    r = du("users", "role", hoa["id"], "--role", "standard", "--permission", "users.show",
           "--permission", "users.show", "--json")
    assert (r.exit_code, r.json()["permissions"]) == (0, ["users.show"])
    assert du("--profile", "hoa", "users", "show", admin["id"], "--json").exit_code == 0
    assert du("--profile", "hoa", "users", "list", "--json").exit_code == 5
    r = du("users", "role", hoa["id"], "--role", "standard", "--json")
    assert r.json()["permissions"] == ["users.show"]  # no --permission: the list stays
    r = du("users", "role", hoa["id"], "--role", "standard", "--no-permissions", "--json")
    assert r.json()["permissions"] == []
    assert du("--profile", "hoa", "users", "show", admin["id"], "--json").exit_code == 5


def test_an_unknown_role_is_refused_with_exit_3(du, admin):
    hoa = member(du, "standard", "hoa")
    r = du("users", "role", hoa["id"], "--role", "emperor", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")
    assert du("users", "show", hoa["id"], "--json").json()["role"] == "standard"


def test_an_unknown_permission_is_refused_naming_only_that_permission(du, admin):
    hoa = member(du, "standard", "hoa")
    r = du("users", "role", hoa["id"], "--role", "standard", "--permission", "users.show",
           "--permission", "users.steal_everything", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")
    assert "users.steal_everything" in r.error()["message"]
    assert "admin.audit_verify" not in r.stderr
    assert du("users", "show", hoa["id"], "--json").json()["permissions"] == []


def test_a_delegated_role_manager_cannot_grant_more_than_they_hold(du, admin):
    hoa = member(du, "standard", "hoa")
    staff = member(du, "staff", "staff")
    du("users", "role", staff["id"], "--role", "staff", "--permission", "users.role")
    r = du("--profile", "staff", "users", "role", staff["id"], "--role", "admin", "--json")
    assert (r.exit_code, r.error()["code"]) == (5, "permission_denied")
    r = du("--profile", "staff", "users", "role", hoa["id"], "--role", "standard", "--permission", "users.list",
           "--json")
    assert (r.exit_code, r.error()["code"]) == (5, "permission_denied")
    r = du("--profile", "staff", "users", "role", hoa["id"], "--role", "premium", "--json")
    assert (r.exit_code, r.json()["role"]) == (0, "premium")


def test_the_last_active_admin_cannot_give_up_the_admin_role(du, admin):
    r = du("users", "role", admin["id"], "--role", "standard", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "invalid_state")
    assert du("auth", "whoami", "--json").json()["role"] == "admin"


def test_activity_lists_what_a_user_did_and_what_was_done_to_them_newest_first(du, admin):
    hoa = member(du, "standard", "hoa")
    du("users", "role", hoa["id"], "--role", "premium")
    du("--profile", "hoa", "auth", "logout")
    r = du("users", "activity", hoa["id"], "--json")
    assert r.exit_code == 0, r.stderr
    actions = [i["action"] for i in r.json()["items"]]
    assert actions == ["auth.logout", "users.role", "auth.login", "auth.register"]
    r = du("users", "activity", hoa["id"], "--limit", "1", "--page", "2", "--json")
    assert [i["action"] for i in r.json()["items"]] == ["users.role"] and r.json()["total"] == 4
    mine = du("users", "activity", admin["id"], "--json").json()["items"]
    assert "auth.logout" not in [i["action"] for i in mine]


def test_activity_of_an_unknown_user_exits_4(du, admin):
    r = du("users", "activity", str(uuid.uuid4()), "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (4, "", "not_found")


def test_a_malformed_user_id_is_a_usage_error(du, admin):
    r = du("users", "show", "not-a-uuid")
    assert (r.exit_code, r.stdout) == (2, "")
