"""`du auth` through the real entry point: exit codes, JSON errors, credentials, secrets."""

from __future__ import annotations

import json
import re
import stat
import time

import pyotp
import pytest

from tests.conftest import _admin, outbox_text

PASSWORD = "a long Pass phrase 42"


def register_args(email="hoa@example.com", phone="+84912345678", name="Trần Thị Hoa", dob="1990-05-01"):
    return ("auth", "register", "--email", email, "--phone", phone, "--full-name", name,
            "--date-of-birth", dob, "--nationality", "VN", "--password-stdin", "--json")


def user_count(du) -> int:
    import psycopg

    with psycopg.connect(du.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute("SELECT count(*) FROM users").fetchone()[0]


@pytest.mark.parametrize("change,field", [
    ({"email": "not-an-email"}, "email"),
    ({"phone": "0912 345 678"}, "phone"),
    ({"dob": "2999-01-01"}, "date_of_birth"),
    ({"name": "Hoa\x1b[2J"}, "full_name"),
    ({"name": "Hoa\u202eTran"}, "full_name"),
])
def test_register_bad_input_exits_3_and_writes_nothing(du, change, field):
    r = du(*register_args(**change), input=PASSWORD + "\n")
    assert r.exit_code == 3, r.stderr
    assert r.stdout == ""
    assert r.error()["code"] == "validation_error" and field in r.error()["message"]
    assert user_count(du) == 0


@pytest.mark.parametrize("password", ["elevenchars", "password1234", "qwertyuiopasdfgh"])
def test_register_short_or_common_password_exits_3(du, password):
    r = du(*register_args(), input=password + "\n")
    assert r.exit_code == 3 and r.error()["code"] == "validation_error"
    assert user_count(du) == 0


def test_register_same_email_twice_is_a_conflict(du):
    du.register("hoa@example.com")
    r = du(*register_args(phone="+84912345600"), input=PASSWORD + "\n")
    assert r.exit_code == 6 and r.error()["code"] == "duplicate"


def test_there_is_no_password_option_only_stdin_or_prompt(du):
    r = du("auth", "login", "--email", "hoa@example.com", "--password", PASSWORD)
    assert r.exit_code == 2


def test_password_without_terminal_or_stdin_flag_is_refused(du):
    du.register("hoa@example.com")
    r = du("auth", "login", "--email", "hoa@example.com", "--insecure-storage", "--json")
    assert r.exit_code == 3 and "--password-stdin" in r.error()["message"]


def test_wrong_password_exits_5_and_locks_after_repeats_with_exit_7(du):
    du.register("hoa@example.com")
    for _ in range(5):
        r = du.login("hoa@example.com", password="not my password at all")
        assert r.exit_code == 5 and r.error()["code"] == "invalid_credentials"
    r = du.login("hoa@example.com")
    assert r.exit_code == 7 and r.error()["code"] == "account_locked"
    assert r.stdout == ""


def test_whoami_without_login_exits_5(du):
    r = du("auth", "whoami", "--json")
    assert r.exit_code == 5 and r.error()["code"] == "auth_required" and r.stdout == ""


def test_insecure_storage_writes_a_0600_file_in_a_0700_directory(du, home):
    du.register("hoa@example.com")
    assert du.login("hoa@example.com").exit_code == 0
    path = home / "config" / "credentials" / "default.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_without_a_keyring_login_fails_closed_and_names_both_ways_on(du, home):
    du.register("hoa@example.com")
    r = du("auth", "login", "--email", "hoa@example.com", "--password-stdin", "--json", input=PASSWORD + "\n",
           env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert r.exit_code == 8
    message = r.error()["message"]
    assert "DU_TOKEN" in message and "--insecure-storage" in message
    assert not (home / "config" / "credentials" / "default.json").exists()
    _admin(du.url, "SELECT 1")
    assert _count(du, "SELECT count(*) FROM auth_sessions") == 0, "no orphan session on the server"


def test_session_is_kept_in_the_os_keyring_when_one_exists(du, home):
    du.register("hoa@example.com")
    env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    r = du("auth", "login", "--email", "hoa@example.com", "--password-stdin", "--json", input=PASSWORD + "\n", env=env)
    assert r.exit_code == 0, r.stderr
    assert not (home / "config" / "credentials" / "default.json").exists()
    assert du("auth", "whoami", "--json", env=env).json()["email"] == "hoa@example.com"
    assert du("auth", "logout", "--json", env=env).exit_code == 0
    assert du("auth", "whoami", "--json", env=env).exit_code == 5


def test_profiles_keep_separate_logins(du):
    du.register("a@example.com", phone="+84912345601")
    du.register("b@example.com", phone="+84912345602")
    assert du.login("a@example.com").exit_code == 0
    assert du.login("b@example.com", profile="desk").exit_code == 0
    assert du("auth", "whoami", "--json").json()["email"] == "a@example.com"
    assert du("--profile", "desk", "auth", "whoami", "--json").json()["email"] == "b@example.com"


def test_after_logout_the_old_token_is_refused(du):
    du.register("hoa@example.com")
    token = du.login("hoa@example.com").json() and _stored_token(du)
    assert du("auth", "logout", "--json").exit_code == 0
    r = du("auth", "whoami", "--json", env={"DU_TOKEN": token})
    assert r.exit_code == 5


def test_du_token_serves_automation_without_stored_credentials(du, home):
    du.register("hoa@example.com")
    du.login("hoa@example.com")
    token = _stored_token(du)
    (home / "config" / "credentials" / "default.json").unlink()
    assert du("auth", "whoami", "--json", env={"DU_TOKEN": token}).json()["email"] == "hoa@example.com"


def test_expired_access_token_is_renewed_with_the_refresh_token(du):
    du.register("hoa@example.com")
    du.login("hoa@example.com")
    before = _stored_token(du)
    _admin(du.url, "UPDATE auth_sessions SET access_expires_at = now() - interval '1 second'")
    r = du("auth", "whoami", "--json")
    assert r.exit_code == 0, r.stderr
    assert _stored_token(du) != before


def test_replayed_refresh_token_revokes_the_family_through_the_cli(du, home):
    du.register("hoa@example.com")
    du.login("hoa@example.com")
    path = home / "config" / "credentials" / "default.json"
    stolen = path.read_text()
    assert du("auth", "refresh", "--json").exit_code == 0
    path.write_text(stolen)  # the thief presents the already used refresh token
    r = du("auth", "refresh", "--json")
    assert r.exit_code == 5 and "already used" in r.error()["message"]
    path.write_text(stolen)
    assert du("auth", "whoami", "--json").exit_code == 5


def test_forgot_and_reset_password_through_the_outbox(du, home):
    du.register("hoa@example.com")
    du.login("hoa@example.com")
    r = du("auth", "forgot-password", "--email", "hoa@example.com", "--json")
    assert r.exit_code == 0
    token = re.search(r"(dupr_\S+)", outbox_text(home)).group(1)
    assert _count(du, "SELECT count(*) FROM notifications WHERE body LIKE '%dupr_%'") == 0, "delivered bodies are cleared"
    new = "another long pass phrase 7"
    r = du("auth", "reset-password", "--token-stdin", "--password-stdin", "--json", input=f"{token}\n{new}\n")
    assert r.exit_code == 0, r.stderr
    assert du("auth", "whoami", "--json").exit_code == 5, "reset revokes every session"
    assert du.login("hoa@example.com", password=new).exit_code == 0
    again = du("auth", "reset-password", "--token-stdin", "--password-stdin", "--json", input=f"{token}\n{new}x\n")
    assert again.exit_code == 5, "a reset token works once"


def test_forgot_password_answers_the_same_for_unknown_accounts(du, home):
    du.register("hoa@example.com")
    known = du("auth", "forgot-password", "--email", "hoa@example.com", "--json").json()
    unknown = du("auth", "forgot-password", "--email", "nobody@example.com", "--json").json()
    assert known == unknown


def test_verify_email_with_the_code_from_the_outbox(du, home):
    du.register("hoa@example.com")
    du.login("hoa@example.com")
    code = re.search(r"Your code is (\d{6})", outbox_text(home)).group(1)
    wrong = du("auth", "verify", "--channel", "email", "--code-stdin", "--json", input="000000\n" if code != "000000" else "111111\n")
    assert wrong.exit_code == 5
    r = du("auth", "verify", "--channel", "email", "--code-stdin", "--json", input=code + "\n")
    assert r.exit_code == 0, r.stderr
    assert du("auth", "whoami", "--json").json()["email_verified"] is True


def test_verify_token_reports_a_live_token(du):
    du.register("hoa@example.com")
    du.login("hoa@example.com")
    token = _stored_token(du)
    info = du("auth", "verify", "--token", "--json", input=token + "\n").json()
    assert info["valid"] is True and info["kind"] == "access"
    assert du("auth", "verify", "--token", "--json", input="dua_forged\n").json()["valid"] is False


def test_mfa_enable_confirm_then_login_needs_a_code_used_once(du):
    du.register("hoa@example.com")
    du.login("hoa@example.com")
    setup = du("auth", "mfa", "enable", "--json").json()
    totp = pyotp.TOTP(setup["secret"])
    assert du("auth", "mfa", "confirm", "--otp", totp.now(), "--json").exit_code == 0
    no_code = du.login("hoa@example.com")
    assert no_code.exit_code == 5 and no_code.error()["code"] == "mfa_required"
    # confirm used the current step's code; the next step's is still inside the drift window
    code = totp.at(time.time() + 30)
    r = du("auth", "login", "--email", "hoa@example.com", "--otp", code, "--password-stdin", "--insecure-storage",
           "--json", input=PASSWORD + "\n")
    assert r.exit_code == 0, r.stderr
    replay = du("auth", "login", "--email", "hoa@example.com", "--otp", code, "--password-stdin",
                "--insecure-storage", "--json", input=PASSWORD + "\n")
    assert replay.exit_code == 5 and replay.error()["code"] == "invalid_credentials"


def test_sessions_list_and_revoke_others(du):
    du.register("hoa@example.com")
    du.login("hoa@example.com")
    assert du.login("hoa@example.com", profile="laptop").exit_code == 0
    listed = du("auth", "sessions", "list", "--json").json()
    assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
    assert du("auth", "sessions", "revoke", "--all-others", "--json").exit_code == 0
    assert du("--profile", "laptop", "auth", "whoami", "--json").exit_code == 5
    assert du("auth", "whoami", "--json").exit_code == 0


def test_no_secret_reaches_the_audit_trail(du, home):
    du.register("hoa@example.com")
    du.login("hoa@example.com")
    du("auth", "forgot-password", "--email", "hoa@example.com", "--json")
    token = re.search(r"(dupr_\S+)", outbox_text(home)).group(1)
    du("auth", "reset-password", "--token-stdin", "--password-stdin", "--json",
       input=f"{token}\nanother long pass phrase 7\n")
    dump = _count(du, "SELECT string_agg(row_to_json(a)::text, ' ') FROM audit_trails a")
    for secret in (PASSWORD, "another long pass phrase 7", token, _stored_token(du) or "dua_"):
        assert secret not in dump


def _count(du, sql):
    import psycopg

    with psycopg.connect(du.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(sql).fetchone()[0]


def _stored_token(du) -> str | None:
    from du_cli import context, credentials

    context._settings.cache_clear()
    stored = credentials.load(context._settings(None, None))
    return stored.access_token if stored else None


def test_json_error_document_shape(du):
    r = du("auth", "whoami", "--json")
    doc = json.loads(r.stderr)
    assert set(doc["error"]) == {"code", "message", "details"}


def test_a_keyring_that_hangs_is_abandoned_after_the_deadline(du, monkeypatch):
    from du_cli import credentials

    monkeypatch.setattr(credentials, "KEYRING_TIMEOUT", 0.5)
    du.register("hoa@example.com")
    start = time.monotonic()
    r = du("auth", "whoami", "--json", env={"PYTHON_KEYRING_BACKEND": "tests.slow_keyring.SlowKeyring"})
    assert time.monotonic() - start < 5
    assert r.exit_code == 8 and "did not answer" in r.error()["message"]
