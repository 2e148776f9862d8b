"""`du client` as a logged-in client uses it: profile, settings, preferences and onboarding."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from sqlalchemy import text

COMMANDS = [
    ("profile", "show"), ("profile", "update"), ("settings", "show"), ("settings", "update"),
    ("preferences", "show"), ("preferences", "update"), ("onboarding", "status"), ("onboarding", "complete"),
]
# One valid way to call each command.
VALID_ARGS = {
    ("profile", "update"): ("--city", "Huế"),
    ("settings", "update"): ("--language", "vi"),
    ("preferences", "update"): ("--horizon-years", "5"),
    ("onboarding", "complete"): ("--step", "terms_accepted"),
}


@pytest.fixture
def client(du) -> dict[str, Any]:
    """A registered guest, logged in under the default profile."""
    user = du.register("hoa@example.com", name="Trần Thị Hoa")
    assert du.login("hoa@example.com").exit_code == 0
    return user


def _rows(engine, sql: str, **params: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def _profile(engine) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    [row] = _rows(engine, "SELECT full_name, date_of_birth, address_line, city, occupation, updated_at"
                          " FROM user_profiles")
    return row


def _client_audit(engine) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return _rows(engine, "SELECT action, actor_id, target_id, old_values, new_values FROM audit_trails"
                         " WHERE action LIKE 'client.%' ORDER BY occurred_at")


def _refused(r, code: int = 3) -> None:  # type: ignore[no-untyped-def]
    assert r.exit_code == code, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1


# help


@pytest.mark.parametrize("path", [(), ("profile",), ("settings",), ("preferences",), ("onboarding",), *COMMANDS])
def test_every_client_command_has_help(du, path):
    r = du("client", *path, "--help")
    assert r.exit_code == 0, r.stderr
    assert "Usage:" in r.stdout and " ".join(("client", *path)) in r.stdout and r.stderr == ""


@pytest.mark.parametrize("noun", ["profile", "settings", "preferences", "onboarding"])
def test_client_groups_without_a_command_show_their_help(du, noun):
    r = du("client", noun)
    assert r.exit_code == 0 and "Commands" in r.stdout


def test_update_help_names_every_allowed_choice(du):
    from du_core.clients.models import EXPERIENCE, GOALS, LANGUAGES, RISK_TOLERANCES, TRADING_STYLES

    settings_help = " ".join(du("client", "settings", "update", "--help").stdout.split())
    preferences_help = " ".join(du("client", "preferences", "update", "--help").stdout.split())
    for choice in LANGUAGES:
        assert choice in settings_help
    for choice in (*TRADING_STYLES, *RISK_TOLERANCES, *EXPERIENCE, *GOALS):
        assert choice in preferences_help, choice


# login


@pytest.mark.parametrize("path", COMMANDS)
def test_every_client_command_needs_a_login(du, path):
    r = du("client", *path, *VALID_ARGS.get(path, ()))
    _refused(r, 5)
    assert "not logged in" in r.stderr


# JSON


@pytest.mark.parametrize("path", COMMANDS)
def test_every_client_command_prints_json_that_parses(du, client, path):
    r = du("client", *path, *VALID_ARGS.get(path, ()), "--json")
    assert r.exit_code == 0, r.stderr
    assert isinstance(r.json(), dict) and r.stderr == ""


# profile


def test_profile_show_lists_the_profile_with_email_and_phone(du, client):
    r = du("client", "profile", "show")
    assert r.exit_code == 0, r.stderr
    lines = dict(line.split("\t", 1) for line in r.stdout.splitlines())
    assert lines["full_name"] == "Trần Thị Hoa" and lines["email"] == "hoa@example.com"
    assert lines["date_of_birth"] == "1990-05-01" and lines["base_currency"] == "USD"


def test_profile_update_changes_given_fields_and_audits_old_and_new(du, client, engine):
    r = du("client", "profile", "update", "--address-line", "12 Phố Huế", "--city", "Hà Nội", "--country", "vn",
           "--occupation", "Kỹ sư", "--base-currency", "vnd", "--json")
    assert r.exit_code == 0, r.stderr
    view = r.json()
    assert (view["address_line"], view["city"], view["country"], view["base_currency"]) == (
        "12 Phố Huế", "Hà Nội", "VN", "VND")
    assert view["full_name"] == "Trần Thị Hoa"
    [entry] = _client_audit(engine)
    assert entry["action"] == "client.profile_update" and entry["target_id"] == client["id"]
    assert entry["old_values"] == {"address_line": None, "city": None, "country": None, "occupation": None,
                                   "base_currency": "USD"}
    assert entry["new_values"] == {"address_line": "12 Phố Huế", "city": "Hà Nội", "country": "VN",
                                   "occupation": "Kỹ sư", "base_currency": "VND"}
    status = du("client", "onboarding", "status", "--json").json()
    assert next(s for s in status["steps"] if s["step"] == "profile_completed")["done"]


def test_profile_update_stores_vietnamese_names_in_nfc(du, client, engine):
    decomposed = unicodedata.normalize("NFD", "Nguyễn Văn Ánh")
    assert decomposed != "Nguyễn Văn Ánh"
    r = du("client", "profile", "update", "--full-name", decomposed, "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["full_name"] == "Nguyễn Văn Ánh"
    assert _profile(engine)["full_name"] == "Nguyễn Văn Ánh"
    assert du("auth", "whoami", "--json").json()["full_name"] == "Nguyễn Văn Ánh"


@pytest.mark.parametrize("option, value", [
    ("--full-name", "Hoa\x1b[2J\x1b[31mADMIN"),
    ("--full-name", "Hoa\u202egnp.exe"),
    ("--address-line", "1 Main St\x1b]0;pwned\x07"),
    ("--city", "Hà\x9b31mNội"),
    ("--occupation", "trader\x1b[1A"),
])
def test_profile_update_rejects_escape_sequences_and_writes_nothing(du, client, engine, option, value):
    before = _profile(engine)
    r = du("client", "profile", "update", option, value, "--postal-code", "100000")
    _refused(r)
    assert "\x1b" not in r.stderr and "\x9b" not in r.stderr
    assert _profile(engine) == before
    assert _client_audit(engine) == []


def test_profile_update_rejects_a_future_date_of_birth(du, client, engine):
    r = du("client", "profile", "update", "--date-of-birth", "2999-01-01", "--json")
    assert r.exit_code == 3 and r.stdout == ""
    error = r.error()
    assert error["code"] == "validation_error" and "future" in error["message"]
    assert str(_profile(engine)["date_of_birth"]) == "1990-05-01"


def test_profile_update_with_no_option_is_nothing_to_update(du, client, engine):
    r = du("client", "profile", "update")
    _refused(r)
    assert "nothing to update" in r.stderr
    assert _client_audit(engine) == []


def test_profile_update_cannot_set_role_kyc_level_status_or_email(du, client, engine):
    from du_cli.errors import exit_code
    from du_core.clients.schemas import UpdateProfile
    from du_core.errors import InvalidInput
    from du_core.validation import parse

    for field, value in (("role", "admin"), ("kyc_level", 3), ("status", "active"), ("email", "x@example.com")):
        with pytest.raises(InvalidInput) as caught:
            parse(UpdateProfile, city="Huế", **{field: value})
        assert exit_code(caught.value) == 3
        assert caught.value.details["errors"][0] == {"field": field, "problem": "Extra inputs are not permitted"}
    for option, value in (("--role", "admin"), ("--kyc-level", "3"), ("--email", "x@example.com")):
        r = du("client", "profile", "update", "--city", "Huế", option, value)
        assert r.exit_code == 2 and r.stdout == "" and "No such option" in r.stderr
    me = du("auth", "whoami", "--json").json()
    assert (me["role"], me["kyc_level"], me["email"]) == ("guest", 0, "hoa@example.com")
    assert _profile(engine)["city"] is None
    assert _client_audit(engine) == []


def test_profile_update_with_an_empty_value_clears_the_field(du, client, engine):
    assert du("client", "profile", "update", "--occupation", "Trader").exit_code == 0
    r = du("client", "profile", "update", "--occupation", "", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["occupation"] is None and _profile(engine)["occupation"] is None


# settings


def test_settings_show_gives_defaults_before_any_change(du, client, engine):
    r = du("client", "settings", "show", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json() == {"language": "en", "timezone": "UTC", "notify_email": True, "notify_sms": False,
                        "notify_trades": True, "notify_price_alerts": True, "notify_marketing": False,
                        "updated_at": None}
    assert _rows(engine, "SELECT 1 FROM client_settings") == []


def test_settings_update_changes_only_the_flags_given(du, client, engine):
    r = du("client", "settings", "update", "--no-notify-email", "--notify-marketing", "--timezone",
           "Asia/Ho_Chi_Minh", "--json")
    assert r.exit_code == 0, r.stderr
    view = r.json()
    assert (view["notify_email"], view["notify_marketing"], view["timezone"]) == (False, True, "Asia/Ho_Chi_Minh")
    assert (view["notify_sms"], view["notify_trades"], view["language"]) == (False, True, "en")
    assert du("client", "settings", "show", "--json").json() == view
    [entry] = _client_audit(engine)
    assert entry["action"] == "client.settings_update"
    assert entry["old_values"] == {"timezone": "UTC", "notify_email": True, "notify_marketing": False}
    assert entry["new_values"] == {"timezone": "Asia/Ho_Chi_Minh", "notify_email": False, "notify_marketing": True}


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "Asia/Saigon\x1b[0m"])
def test_settings_update_rejects_a_bad_timezone(du, client, engine, zone):
    r = du("client", "settings", "update", "--timezone", zone)
    _refused(r)
    assert "IANA" in r.stderr or "control" in r.stderr
    assert _rows(engine, "SELECT 1 FROM client_settings") == []


def test_settings_update_rejects_an_unknown_language(du, client):
    r = du("client", "settings", "update", "--language", "xx", "--json")
    assert r.exit_code == 3 and r.stdout == ""
    assert "en, vi, fr, de, es, ja, zh" in r.error()["message"]


# preferences


def test_preferences_update_stores_goals_and_marks_preferences_set(du, client, engine):
    r = du("client", "preferences", "update", "--trading-style", "swing", "--risk-tolerance", "medium",
           "--experience", "beginner", "--goal", "growth", "--goal", "retirement", "--horizon-years", "15", "--json")
    assert r.exit_code == 0, r.stderr
    view = r.json()
    assert (view["trading_style"], view["risk_tolerance"], view["experience"], view["investment_goals"],
            view["horizon_years"]) == ("swing", "medium", "beginner", ["growth", "retirement"], 15)
    assert du("client", "preferences", "show", "--json").json() == view
    status = du("client", "onboarding", "status", "--json").json()
    assert next(s for s in status["steps"] if s["step"] == "preferences_set")["done"]
    r = du("client", "preferences", "update", "--clear-goals", "--json")
    assert r.exit_code == 0 and r.json()["investment_goals"] == [] and r.json()["trading_style"] == "swing"
    assert [e["new_values"] for e in _client_audit(engine)][-1] == {"investment_goals": []}


@pytest.mark.parametrize("args, problem", [
    (("--goal", "growth", "--goal", "lottery"), "each investment goal must be one of"),
    (("--goal", "growth", "--goal", "growth"), "more than once"),
    (("--horizon-years", "101"), "less than or equal to 100"),
    (("--risk-tolerance", "yolo"), "risk tolerance must be one of low, medium, high"),
    (("--goal", "growth", "--clear-goals"), "not both"),
])
def test_preferences_update_rejects_values_outside_the_lists(du, client, engine, args, problem):
    r = du("client", "preferences", "update", *args)
    _refused(r)
    assert problem in r.stderr
    assert _rows(engine, "SELECT 1 FROM client_preferences") == []


# onboarding


def test_onboarding_status_shows_every_step_and_the_next_one(du, client):
    r = du("client", "onboarding", "status", "--json")
    assert r.exit_code == 0, r.stderr
    status = r.json()
    assert [s["step"] for s in status["steps"]] == [
        "email_verified", "phone_verified", "profile_completed", "preferences_set",
        "risk_disclosure_accepted", "terms_accepted", "kyc_submitted", "first_deposit"]
    assert (status["next_step"], status["completed"], status["total"], status["percent"]) == ("email_verified", 0, 8, 0)


def test_onboarding_complete_accepts_the_terms_once(du, client, engine):
    r = du("client", "onboarding", "complete", "--step", "terms_accepted", "--json")
    assert r.exit_code == 0, r.stderr
    step = next(s for s in r.json()["steps"] if s["step"] == "terms_accepted")
    assert step["done"] and step["completed_at"] is not None and r.json()["percent"] == 12
    again = du("client", "onboarding", "complete", "--step", "terms_accepted", "--json")
    assert again.exit_code == 0 and next(s for s in again.json()["steps"] if s["step"] == "terms_accepted") == step
    assert [e["new_values"] for e in _client_audit(engine)] == [{"step": "terms_accepted", "done": True}, None]


@pytest.mark.parametrize("step", ["email_verified", "kyc_submitted", "first_deposit", "profile_completed"])
def test_onboarding_complete_refuses_a_step_the_platform_records(du, client, engine, step):
    r = du("client", "onboarding", "complete", "--step", step)
    _refused(r)
    assert f"{step} cannot be completed by hand" in r.stderr
    assert _rows(engine, "SELECT 1 FROM onboarding_steps") == [] and _client_audit(engine) == []


def test_onboarding_complete_refuses_an_unknown_step_listing_the_allowed_ones(du, client):
    r = du("client", "onboarding", "complete", "--step", "get_rich", "--json")
    assert r.exit_code == 3 and r.stdout == ""
    error = json.loads(r.stderr)["error"]
    assert error["details"]["allowed"] == ["risk_disclosure_accepted", "terms_accepted"]
    assert "risk_disclosure_accepted, terms_accepted" in error["message"]
