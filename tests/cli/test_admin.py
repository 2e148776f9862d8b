"""`du admin` as an operator meets it: the first admin, accounts, settings, maintenance, the audit trail."""

from __future__ import annotations

import uuid

import pytest
from tests.conftest import sql

PASSWORD = "a long Pass phrase 42"


def bootstrap(du, email: str = "root@example.com", phone: str = "+84911000001", *args: str):
    return du("admin", "bootstrap", "--email", email, "--phone", phone, "--full-name", "Lê Văn Quản",
              "--date-of-birth", "1980-01-02", "--nationality", "VN", "--password-stdin", "--json", *args,
              input=PASSWORD + "\n")


def member(du, role: str, profile: str, name: str = "Trần Thị Hoa") -> dict:
    """Register a user, give them `role` and log them in under `profile`."""
    return du.user_as(role, profile=profile, name=name)




@pytest.fixture
def admin(du):
    return du.user_as("admin")


# bootstrap


def test_bootstrap_on_an_empty_platform_creates_an_admin_who_can_log_in(du):
    r = bootstrap(du)
    assert r.exit_code == 0, r.stderr
    assert (r.json()["role"], r.json()["email"], r.stderr) == ("admin", "root@example.com", "")
    assert du.login("root@example.com").exit_code == 0
    assert du("auth", "whoami", "--json").json()["role"] == "admin"


def test_second_bootstrap_is_refused_with_exit_6_and_an_empty_stdout(du):
    assert bootstrap(du).exit_code == 0
    r = bootstrap(du, "second@example.com", "+84911000002")
    assert (r.exit_code, r.stdout) == (6, "")
    assert r.error()["code"] == "invalid_state"
    assert "already has an admin" in r.error()["message"]


def test_bootstrap_with_a_bad_email_fails_before_reading_a_password(du):
    r = du("admin", "bootstrap", "--email", "not-an-email", "--phone", "+84911000001", "--full-name", "Lê Quản",
           "--date-of-birth", "1980-01-02", "--nationality", "VN")
    assert (r.exit_code, r.stdout) == (3, "")
    assert "email" in r.stderr and "password" not in r.stderr


def test_bootstrap_off_a_terminal_without_password_stdin_asks_for_it(du):
    r = du("admin", "bootstrap", "--email", "root@example.com", "--phone", "+84911000001",
           "--full-name", "Lê Quản", "--date-of-birth", "1980-01-02", "--nationality", "VN")
    assert r.exit_code == 3
    assert "--password-stdin" in r.stderr


def test_bootstrap_is_audited_once_as_the_creation_of_an_admin(du):
    user = bootstrap(du).json()
    du.login("root@example.com")
    r = du("admin", "audit", "list", "--target", user["id"], "--json")
    items = r.json()["items"]
    assert [item["action"] for item in items] == ["auth.login", "admin.bootstrap"]
    assert items[1]["new_values"]["role"] == "admin" and items[1]["actor_id"] is None


# users


@pytest.mark.parametrize("group", [("users",), ("admin", "users")])
def test_standard_user_listing_users_is_denied_with_exit_5(du, group):
    du.user_as("standard")
    r = du(*group, "list", "--json")
    assert (r.exit_code, r.stdout) == (5, "")
    assert r.error()["code"] == "permission_denied"


def test_admin_lists_users_with_paging(du, admin):
    for profile in ("p1", "p2", "p3"):
        member(du, "standard", profile)
    r = du("admin", "users", "list", "--limit", "2", "--page", "2", "--json")
    assert r.exit_code == 0, r.stderr
    page = r.json()
    assert (page["page"], page["limit"], page["total"], len(page["items"])) == (2, 2, 4, 2)
    r = du("admin", "users", "list", "--role", "admin", "--json")
    assert [u["id"] for u in r.json()["items"]] == [admin["id"]]


def test_search_finds_users_by_name_email_or_phone(du, admin):
    lan = member(du, "standard", "lan", name="Nguyễn Thị Lan")
    member(du, "standard", "minh", name="Phạm Minh")
    for term in ("thị lan", lan["email"].upper(), lan["phone"][3:]):
        r = du("admin", "users", "list", "--search", term, "--json")
        assert [u["id"] for u in r.json()["items"]] == [lan["id"]], term


def test_search_takes_percent_and_underscore_literally(du, admin):
    member(du, "standard", "plain")
    for term in ("%", "_", "\\"):
        r = du("admin", "users", "list", "--search", term, "--json")
        assert (r.exit_code, r.json()["total"]) == (0, 0), term


def test_limit_above_200_is_invalid_input(du, admin):
    r = du("admin", "users", "list", "--limit", "201", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")
    assert du("admin", "users", "list", "--page", "0").exit_code == 3


def test_admin_sees_a_users_profile_verification_sessions_and_last_login(du, admin):
    hoa = member(du, "standard", "hoa")
    r = du("admin", "users", "show", hoa["id"], "--json")
    assert r.exit_code == 0, r.stderr
    shown = r.json()
    assert shown["profile"]["nationality"] == "VN" and shown["full_name"] == "Trần Thị Hoa"
    assert (shown["email_verified"], shown["mfa_enabled"], shown["active_sessions"]) == (False, False, 1)
    assert shown["last_login_at"] is not None
    assert "password_hash" not in shown and "mfa_secret" not in shown


def test_showing_an_unknown_user_exits_4(du, admin):
    r = du("admin", "users", "show", str(uuid.uuid4()), "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (4, "", "not_found")


def test_update_changes_only_the_given_fields_and_audits_old_and_new(du, admin):
    hoa = member(du, "standard", "hoa")
    r = du("admin", "users", "update", hoa["id"], "--kyc-level", "2", "--notes", "checked ID card", "--json")
    assert r.exit_code == 0, r.stderr
    shown = r.json()
    assert (shown["kyc_level"], shown["notes"], shown["role"], shown["status"]) == (
        2, "checked ID card", "standard", "active")
    r = du("admin", "audit", "list", "--action", "admin.users_update", "--target", hoa["id"], "--json")
    (entry,) = r.json()["items"]
    assert entry["old_values"] == {"kyc_level": 0, "notes": None}
    assert entry["new_values"] == {"kyc_level": 2, "notes": "checked ID card"}
    assert entry["actor_id"] == admin["id"]


def test_update_with_nothing_to_change_is_invalid_input(du, admin):
    r = du("admin", "users", "update", admin["id"], "--json")
    assert (r.exit_code, r.error()["code"]) == (3, "validation_error")


@pytest.mark.parametrize("option", [("--role", "emperor"), ("--status", "banished"), ("--kyc-level", "4")])
def test_update_refuses_values_outside_their_set_with_exit_3(du, admin, option):
    hoa = member(du, "standard", "hoa")
    r = du("admin", "users", "update", hoa["id"], *option, "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")
    assert du("admin", "users", "show", hoa["id"], "--json").json()["role"] == "standard"


def test_notes_with_terminal_escape_codes_are_refused(du, admin):
    r = du("admin", "users", "update", admin["id"], "--notes", "ok\x1b[2Jgone", "--json")
    assert (r.exit_code, r.stdout) == (3, "")
    assert "control" in r.error()["message"]


def test_suspending_a_user_signs_them_out_everywhere(du, admin):
    hoa = member(du, "standard", "hoa")
    assert du("--profile", "hoa", "auth", "whoami").exit_code == 0
    r = du("admin", "users", "update", hoa["id"], "--status", "suspended", "--json")
    assert (r.exit_code, r.json()["status"], r.json()["active_sessions"]) == (0, "suspended", 0)
    r = du("--profile", "hoa", "auth", "whoami", "--json")
    assert (r.exit_code, r.error()["code"]) == (5, "auth_required")
    assert du.login(hoa["email"], profile="hoa").exit_code == 5


def test_closing_an_account_asks_for_yes_off_a_terminal(du, admin):
    hoa = member(du, "standard", "hoa")
    r = du("admin", "users", "update", hoa["id"], "--status", "closed")
    assert (r.exit_code, r.stdout) == (3, "") and "--yes" in r.stderr
    r = du("admin", "users", "update", hoa["id"], "--status", "closed", "--yes", "--json")
    assert (r.exit_code, r.json()["status"]) == (0, "closed")
    r = du("admin", "users", "update", hoa["id"], "--status", "active", "--json")
    assert (r.exit_code, r.error()["code"]) == (6, "invalid_state")


@pytest.mark.parametrize("change", [("--status", "suspended"), ("--role", "staff")])
def test_the_last_active_admin_cannot_suspend_or_demote_themself(du, admin, change):
    r = du("admin", "users", "update", admin["id"], *change, "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (6, "", "invalid_state")
    assert "last active admin" in r.error()["message"]
    member(du, "admin", "other")
    r = du("admin", "users", "update", admin["id"], *change, "--json")
    assert r.exit_code == 0, r.stderr


# settings


def test_settings_show_lists_every_setting_with_its_default(du, admin):
    from du_core.admin.settings import CATALOG

    r = du("admin", "settings", "show", "--json")
    assert r.exit_code == 0, r.stderr
    shown = {s["key"]: s for s in r.json()}
    assert set(shown) == set(CATALOG)
    assert shown["max_leverage"]["value"] == shown["max_leverage"]["default"] == "1"
    assert (shown["maintenance_mode"]["type"], shown["maintenance_mode"]["updated_by"]) == ("bool", None)


def test_settings_update_changes_every_pair_and_says_who_changed_them(du, admin):
    r = du("admin", "settings", "update", "max_leverage=5", "trading_enabled=false", "--json")
    assert r.exit_code == 0, r.stderr
    changed = {s["key"]: s for s in r.json()}
    assert (changed["max_leverage"]["value"], changed["trading_enabled"]["value"]) == ("5", False)
    assert changed["max_leverage"]["updated_by"] == admin["id"] and changed["max_leverage"]["updated_at"]
    r = du("admin", "audit", "list", "--action", "admin.settings_update", "--json")
    (entry,) = r.json()["items"]
    assert entry["old_values"] == {"max_leverage": "1", "trading_enabled": True}
    assert entry["new_values"] == {"max_leverage": "5", "trading_enabled": False}


@pytest.mark.parametrize("bad", ["max_open_orders=lots", "max_leverage=1000", "no_such_setting=1", "maintenance_mode"])
def test_one_bad_pair_changes_no_setting(du, admin, bad):
    r = du("admin", "settings", "update", "max_leverage=5", bad, "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (3, "", "validation_error")
    shown = {s["key"]: s["value"] for s in du("admin", "settings", "show", "--json").json()}
    assert shown["max_leverage"] == "1"
    assert du("admin", "audit", "list", "--action", "admin.settings_update", "--json").json()["total"] == 0


def test_maintenance_mode_stops_non_admins_with_exit_8_and_lets_admins_work(du, admin):
    member(du, "standard", "client")
    assert du("admin", "settings", "update", "maintenance_mode=true").exit_code == 0
    r = du("--profile", "client", "auth", "whoami", "--json")
    assert (r.exit_code, r.stdout, r.error()["code"]) == (8, "", "maintenance_mode")
    assert du("auth", "whoami").exit_code == 0
    assert du("admin", "settings", "update", "maintenance_mode=false").exit_code == 0
    assert du("--profile", "client", "auth", "whoami").exit_code == 0


# audit


def test_audit_commands_are_refused_to_a_standard_user(du):
    du.user_as("standard")
    for command in (("admin", "audit", "list"), ("admin", "audit", "verify")):
        r = du(*command, "--json")
        assert (r.exit_code, r.stdout, r.error()["code"]) == (5, "", "permission_denied")


def test_audit_list_filters_by_actor_action_and_outcome(du, admin):
    member(du, "standard", "hoa")
    assert du("--profile", "hoa", "admin", "users", "list").exit_code == 5
    r = du("admin", "audit", "list", "--action", "auth.*", "--actor", admin["id"], "--json")
    assert {i["action"] for i in r.json()["items"]} == {"auth.login"}
    r = du("admin", "audit", "list", "--outcome", "denied", "--json")
    (denied,) = r.json()["items"]
    assert (denied["action"], denied["actor_role"]) == ("admin.users_list", "standard")
    r = du("admin", "audit", "list", "--since", "2999-01-01", "--json")
    assert r.json()["total"] == 0
    r = du("admin", "audit", "list", "--since", "2030-01-01", "--until", "2020-01-01", "--json")
    assert r.exit_code == 3


def test_audit_verify_passes_on_an_untouched_trail(du, admin):
    r = du("admin", "audit", "verify", "--json")
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert (report["ok"], report["chains"], report["breaches"]) == (True, 16, [])
    assert report["records"] == du("admin", "audit", "list", "--json").json()["total"]


def test_audit_verify_names_a_record_changed_behind_the_platforms_back(du, admin):
    (target,) = sql(du, "SELECT id FROM audit_trails WHERE action = 'auth.register'")
    sql(du, "UPDATE audit_trails SET actor_role = 'admin' WHERE id = :id", triggers_off=True, id=target.id)
    r = du("admin", "audit", "verify")
    assert (r.exit_code, r.stdout) == (6, "")
    assert str(target.id) in r.stderr and "does not match its hash" in r.stderr
    r = du("admin", "audit", "verify", "--json")
    error = r.error()
    assert (r.exit_code, error["code"]) == (6, "audit_tampered")
    assert error["details"]["breaches"][0]["record_id"] == str(target.id)


def test_audit_verify_catches_a_deleted_record(du, admin):
    from du_core.actor import Actor, Role
    from du_core.audit.trail import record
    from du_core.db.engine import create
    from du_core.db.runner import run

    def three_records(session, actor, _):  # one transaction writes to one chain: seq n, n+1, n+2
        for n in range(3):
            record(session, actor, "test.filler", details={"n": n})

    eng = create(du.url)
    run(eng, three_records, actor=Actor(user_id=uuid.UUID(admin["id"]), role=Role.admin))
    eng.dispose()
    (middle, after) = sql(du, "SELECT id FROM audit_trails WHERE action = 'test.filler' ORDER BY seq")[1:]
    sql(du, "DELETE FROM audit_trails WHERE id = :id", triggers_off=True, id=middle.id)
    r = du("admin", "audit", "verify", "--json")
    assert (r.exit_code, r.stdout) == (6, "")
    breach = r.error()["details"]["breaches"][0]
    assert (breach["record_id"], breach["reason"]) == (str(after.id), "a record is missing before this one")


def test_audit_verify_catches_a_forged_record_even_with_a_valid_link(du, admin):
    from datetime import datetime, timezone

    from du_core.audit.trail import link_hash

    (head,) = sql(du, "SELECT chain, seq, head_hash FROM audit_chains WHERE seq > 0 LIMIT 1")
    forged = {"chain": head.chain, "seq": head.seq + 1, "occurred_at": datetime.now(timezone.utc),
              "actor_id": None, "actor_role": None, "client": "cli", "profile": "default", "device": None,
              "action": "admin.users_update", "target_type": "user", "target_id": admin["id"], "outcome": "success",
              "old_values": None, "new_values": None, "details": None}
    forged_id = uuid.uuid4()
    sql(du, "INSERT INTO audit_trails (id, chain, seq, occurred_at, client, profile, action, target_type, target_id,"
            " outcome, prev_hash, hash) VALUES (:id, :chain, :seq, :occurred_at, :client, :profile, :action,"
            " :target_type, :target_id, :outcome, :prev, :hash)",
        id=forged_id, prev=bytes(head.head_hash), hash=link_hash(bytes(head.head_hash), forged), **forged)
    r = du("admin", "audit", "verify")
    assert (r.exit_code, r.stdout) == (6, "")
    assert str(forged_id) in r.stderr and "beyond the chain's recorded head" in r.stderr
