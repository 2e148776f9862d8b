"""The client services on a real database: a user's own profile, settings, preferences, onboarding."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from du_core.actor import Actor, Role
from du_core.clients import onboarding, service
from du_core.clients.models import ONBOARDING_STEPS
from du_core.clients.schemas import CompleteStep, UpdatePreferences, UpdateProfile, UpdateSettings
from du_core.db.runner import run
from du_core.errors import AuthRequired, InvalidInput
from du_core.validation import parse


def _register(engine, email: str = "hoa@example.com", phone: str = "+84912345678") -> Actor:  # type: ignore[no-untyped-def]
    from du_core.auth import service as auth
    from du_core.auth.schemas import Register

    user = run(engine, auth.register, parse(Register, email=email, phone=phone, full_name="Trần Thị Hoa",
                                            password="a long Pass phrase 42", date_of_birth="1990-05-01",
                                            nationality="VN"))
    return Actor(user_id=user.id, role=Role.guest)


@pytest.fixture
def client(engine) -> Actor:  # type: ignore[no-untyped-def]
    return _register(engine)


def _rows(engine, sql: str, **params: Any) -> list[Any]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).mappings())


def _audit(engine, action: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return _rows(engine, "SELECT actor_id, target_type, target_id, old_values, new_values, details FROM audit_trails"
                         " WHERE action = :a ORDER BY occurred_at", a=action)


def _client_audit_count(engine) -> int:  # type: ignore[no-untyped-def]
    return len(_rows(engine, "SELECT 1 FROM audit_trails WHERE action LIKE 'client.%'"))


# profile


def test_profile_show_returns_registration_details_and_contacts(engine, client):
    view = run(engine, service.profile_show, actor=client)
    assert (view.full_name, view.date_of_birth, view.nationality) == ("Trần Thị Hoa", date(1990, 5, 1), "VN")
    assert (view.email, view.phone, view.base_currency) == ("hoa@example.com", "+84912345678", "USD")
    assert view.address_line is None and view.city is None


def test_profile_update_changes_only_given_fields_and_audits_old_and_new(engine, client):
    view = run(engine, service.profile_update, parse(UpdateProfile, city="Hà Nội", base_currency="vnd"), actor=client)
    assert (view.city, view.base_currency, view.full_name) == ("Hà Nội", "VND", "Trần Thị Hoa")
    [entry] = _audit(engine, "client.profile_update")
    assert entry["old_values"] == {"city": None, "base_currency": "USD"}
    assert entry["new_values"] == {"city": "Hà Nội", "base_currency": "VND"}
    assert (entry["actor_id"], entry["target_type"], entry["target_id"]) == (client.user_id, "user", str(client.user_id))


def test_profile_update_stores_vietnamese_text_in_nfc(engine, client):
    decomposed = unicodedata.normalize("NFD", "Nguyễn Văn Ánh")
    run(engine, service.profile_update, parse(UpdateProfile, full_name=decomposed,
                                              address_line=unicodedata.normalize("NFD", "12 Phố Huế")), actor=client)
    [row] = _rows(engine, "SELECT full_name, address_line FROM user_profiles WHERE user_id = :u", u=client.user_id)
    assert row["full_name"] == "Nguyễn Văn Ánh" == unicodedata.normalize("NFC", row["full_name"])
    assert row["address_line"] == unicodedata.normalize("NFC", "12 Phố Huế")


@pytest.mark.parametrize("field, value", [
    ("full_name", "Hoa\x1b[31m"), ("full_name", "Hoa\u202eevil"), ("address_line", "1 Main St\x1b]0;x\x07"),
    ("address_line", "line one\nline two"), ("city", "Hà\u200bNội"), ("occupation", "trader\x00"),
    ("postal_code", "100000<script>"), ("date_of_birth", "2999-01-01"), ("date_of_birth", "2015-01-01"),
    ("nationality", "XX"), ("country", "Vietnam"), ("base_currency", "EU"), ("base_currency", "U$D"),
])
def test_profile_update_rejects_bad_values_without_echoing_them(engine, client, field, value):
    with pytest.raises(InvalidInput) as caught:
        parse(UpdateProfile, **{field: value})
    assert caught.value.details["errors"][0]["field"] == field
    assert value not in caught.value.message  # the input is never echoed back
    assert _client_audit_count(engine) == 0


@pytest.mark.parametrize("field, value", [
    ("role", "admin"), ("kyc_level", 3), ("status", "active"), ("email", "boss@example.com"),
    ("phone", "+84987654321"), ("user_id", str(uuid.uuid4())), ("permissions", ["users.role"]),
])
def test_profile_update_refuses_fields_a_client_may_not_set(engine, client, field, value):
    with pytest.raises(InvalidInput) as caught:
        parse(UpdateProfile, full_name="Boss", **{field: value})
    assert caught.value.details["errors"][0]["field"] == field
    [user] = _rows(engine, "SELECT role, kyc_level, status, email FROM users WHERE id = :u", u=client.user_id)
    assert dict(user) == {"role": "guest", "kyc_level": 0, "status": "active", "email": "hoa@example.com"}


def test_profile_update_with_nothing_given_is_refused(engine, client):
    with pytest.raises(InvalidInput, match="nothing to update"):
        run(engine, service.profile_update, UpdateProfile(), actor=client)
    assert _client_audit_count(engine) == 0


def test_profile_update_refuses_clearing_a_required_field(engine, client):
    with pytest.raises(InvalidInput, match="full name cannot be cleared"):
        run(engine, service.profile_update, UpdateProfile(full_name=None, city="Huế"), actor=client)
    assert run(engine, service.profile_show, actor=client).city is None


def test_profile_update_with_empty_text_clears_an_optional_field(engine, client):
    run(engine, service.profile_update, parse(UpdateProfile, occupation="Engineer", postal_code="100000"), actor=client)
    view = run(engine, service.profile_update, parse(UpdateProfile, occupation="", postal_code=" "), actor=client)
    assert (view.occupation, view.postal_code) == (None, None)
    assert _audit(engine, "client.profile_update")[-1]["old_values"] == {"occupation": "Engineer",
                                                                          "postal_code": "100000"}


def test_profile_completed_is_marked_once_address_city_and_country_are_set(engine, client):
    run(engine, service.profile_update, parse(UpdateProfile, address_line="12 Phố Huế", city="Hà Nội"), actor=client)
    assert not _step(engine, client, "profile_completed")["done"]
    run(engine, service.profile_update, parse(UpdateProfile, country="vn"), actor=client)
    assert _step(engine, client, "profile_completed")["done"]
    assert _audit(engine, "client.profile_update")[-1]["details"] == {"onboarding_step": "profile_completed"}


def test_profile_update_acts_on_the_callers_own_profile_only(engine, client):
    other = _register(engine, "other@example.com", "+84987654321")
    run(engine, service.profile_update, parse(UpdateProfile, city="Đà Nẵng"), actor=other)
    assert run(engine, service.profile_show, actor=client).city is None
    assert run(engine, service.profile_show, actor=other).city == "Đà Nẵng"


# settings


def test_settings_show_returns_defaults_without_writing_a_row(engine, client):
    view = run(engine, service.settings_show, actor=client)
    assert (view.language, view.timezone, view.notify_email, view.notify_sms, view.notify_marketing,
            view.updated_at) == ("en", "UTC", True, False, False, None)
    assert _rows(engine, "SELECT 1 FROM client_settings") == []


def test_settings_update_creates_the_row_then_patches_it(engine, client):
    view = run(engine, service.settings_update, parse(UpdateSettings, language="VI", notify_sms=True), actor=client)
    assert (view.language, view.notify_sms, view.timezone, view.notify_email) == ("vi", True, "UTC", True)
    view = run(engine, service.settings_update, parse(UpdateSettings, timezone="asia/ho_chi_minh"), actor=client)
    assert (view.language, view.timezone) == ("vi", "Asia/Ho_Chi_Minh")
    first, second = _audit(engine, "client.settings_update")
    assert (first["old_values"], first["new_values"]) == ({"language": "en", "notify_sms": False},
                                                          {"language": "vi", "notify_sms": True})
    assert (second["old_values"], second["new_values"]) == ({"timezone": "UTC"}, {"timezone": "Asia/Ho_Chi_Minh"})
    assert run(engine, service.settings_show, actor=client).timezone == "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "localtime", "UTC\x1b[2J",
                                  "", "posixrules"])
def test_settings_update_rejects_a_timezone_that_is_not_an_iana_name(engine, client, zone):
    with pytest.raises(InvalidInput) as caught:
        parse(UpdateSettings, timezone=zone)
    assert caught.value.details["errors"][0]["field"] == "timezone"


def test_settings_update_rejects_an_unknown_language(engine, client):
    with pytest.raises(InvalidInput, match="language must be one of en, vi"):
        parse(UpdateSettings, language="klingon")


# preferences


def test_preferences_show_returns_empty_defaults_without_writing_a_row(engine, client):
    view = run(engine, service.preferences_show, actor=client)
    assert (view.trading_style, view.investment_goals, view.horizon_years) == (None, [], None)
    assert _rows(engine, "SELECT 1 FROM client_preferences") == []


def test_preferences_update_stores_goals_and_marks_preferences_set_with_style_and_risk(engine, client):
    view = run(engine, service.preferences_update,
               parse(UpdatePreferences, trading_style="swing", investment_goals=["growth", "Income"], horizon_years=10),
               actor=client)
    assert (view.trading_style, view.investment_goals, view.horizon_years) == ("swing", ["growth", "income"], 10)
    assert not _step(engine, client, "preferences_set")["done"]
    run(engine, service.preferences_update, parse(UpdatePreferences, risk_tolerance="medium"), actor=client)
    assert _step(engine, client, "preferences_set")["done"]
    view = run(engine, service.preferences_update, parse(UpdatePreferences, investment_goals=[]), actor=client)
    assert view.investment_goals == [] and view.risk_tolerance == "medium"
    assert _audit(engine, "client.preferences_update")[-1]["old_values"] == {"investment_goals": ["growth", "income"]}


@pytest.mark.parametrize("values, problem", [
    ({"investment_goals": ["growth", "lottery"]}, "each investment goal must be one of"),
    ({"investment_goals": ["growth", "growth"]}, "given more than once"),
    ({"horizon_years": 101}, "less than or equal to 100"),
    ({"horizon_years": -1}, "greater than or equal to 0"),
    ({"risk_tolerance": "yolo"}, "risk tolerance must be one of low, medium, high"),
    ({"trading_style": "hodl"}, "trading style must be one of"),
    ({"experience": "guru"}, "experience must be one of"),
])
def test_preferences_update_rejects_values_outside_the_lists(engine, client, values, problem):
    with pytest.raises(InvalidInput, match=problem):
        parse(UpdatePreferences, **values)


def test_preferences_update_refuses_goals_given_as_none(engine, client):
    with pytest.raises(InvalidInput, match="investment goals cannot be cleared"):
        run(engine, service.preferences_update, UpdatePreferences(investment_goals=None), actor=client)
    assert _rows(engine, "SELECT 1 FROM client_preferences") == []


# onboarding


def _step(engine, actor: Actor, step: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    status = run(engine, service.onboarding_status, actor=actor)
    return next(s for s in status.model_dump()["steps"] if s["step"] == step)


def test_onboarding_status_lists_every_step_in_order_with_the_next_one(engine, client):
    status = run(engine, service.onboarding_status, actor=client)
    assert [s.step for s in status.steps] == list(ONBOARDING_STEPS)
    assert not any(s.done for s in status.steps)
    assert (status.next_step, status.completed, status.total, status.percent) == ("email_verified", 0, 8, 0)


def test_onboarding_status_takes_verified_contacts_from_the_users_table(engine, client):
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET email_verified_at = now() WHERE id = :u"), {"u": client.user_id})
    status = run(engine, service.onboarding_status, actor=client)
    email = status.steps[0]
    assert (email.step, email.done, email.completed_at is not None) == ("email_verified", True, True)
    assert (status.next_step, status.completed, status.percent) == ("phone_verified", 1, 12)


def test_onboarding_complete_records_a_declaration_once_and_repeats_idempotently(engine, client):
    status = run(engine, service.onboarding_complete, parse(CompleteStep, step="terms_accepted"), actor=client)
    done = next(s for s in status.steps if s.step == "terms_accepted")
    assert done.done and done.self_declared and status.completed == 1
    again = run(engine, service.onboarding_complete, parse(CompleteStep, step="Terms_Accepted"), actor=client)
    assert next(s for s in again.steps if s.step == "terms_accepted").completed_at == done.completed_at
    first, second = _audit(engine, "client.onboarding_complete")
    assert (first["old_values"], first["new_values"]) == ({"step": "terms_accepted", "done": False},
                                                          {"step": "terms_accepted", "done": True})
    assert second["details"] == {"step": "terms_accepted", "already_done": True}
    assert _rows(engine, "SELECT count(*) AS n FROM onboarding_steps WHERE user_id = :u", u=client.user_id)[0]["n"] == 1


@pytest.mark.parametrize("step", sorted(onboarding.RECORDED_BY_PLATFORM))
def test_onboarding_complete_refuses_steps_the_platform_records(engine, client, step):
    with pytest.raises(InvalidInput, match=f"{step} cannot be completed by hand: it is recorded when|once"):
        run(engine, service.onboarding_complete, parse(CompleteStep, step=step), actor=client)
    assert not _step(engine, client, step)["done"]
    assert _client_audit_count(engine) == 0


def test_onboarding_complete_refuses_an_unknown_step_listing_the_allowed_ones(engine, client):
    with pytest.raises(InvalidInput) as caught:
        run(engine, service.onboarding_complete, parse(CompleteStep, step="be_rich\x1b[2J"), actor=client)
    assert "risk_disclosure_accepted, terms_accepted" in caught.value.message
    assert "\x1b" not in caught.value.message
    assert caught.value.details["allowed"] == ["risk_disclosure_accepted", "terms_accepted"]


def test_every_onboarding_step_is_either_declared_by_the_client_or_recorded_by_the_platform():
    declared, recorded = set(onboarding.SELF_DECLARED), set(onboarding.RECORDED_BY_PLATFORM)
    assert declared.isdisjoint(recorded) and declared | recorded == set(ONBOARDING_STEPS)


# every operation


def test_show_operations_write_no_audit_record(engine, client):
    for op in (service.profile_show, service.settings_show, service.preferences_show, service.onboarding_status):
        run(engine, op, actor=client)
    assert _client_audit_count(engine) == 0


@pytest.mark.parametrize("op, request_", [
    (service.profile_show, None), (service.profile_update, UpdateProfile(city="Huế")),
    (service.settings_show, None), (service.settings_update, UpdateSettings(language="vi")),
    (service.preferences_show, None), (service.preferences_update, UpdatePreferences(horizon_years=5)),
    (service.onboarding_status, None), (service.onboarding_complete, CompleteStep(step="terms_accepted")),
])
def test_every_client_operation_needs_a_login(engine, op, request_):
    with pytest.raises(AuthRequired):
        run(engine, op, request_)
