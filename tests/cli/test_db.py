"""`du db` and the embedded server a new user gets without any set-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DU = str(Path(sys.executable).parent / "du")
PASSWORD = "a long Pass phrase 42"


def run(env, *args, input=""):
    return subprocess.run([DU, *args], capture_output=True, text=True, env=env, input=input, timeout=120)


def test_new_user_registers_and_logs_in_without_database_set_up(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DU_")}
    env.update(HOME=str(tmp_path), DU_DATA_DIR=str(tmp_path / "d"), DU_CONFIG_DIR=str(tmp_path / "c"))
    try:
        r = run(env, "auth", "register", "--email", "new@example.com", "--phone", "+84912345678", "--full-name",
                "Phạm Minh Châu", "--date-of-birth", "1992-02-29", "--nationality", "VN", "--password-stdin",
                input=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        pid = json.loads(run(env, "db", "status", "--json").stdout)["pid"]
        assert run(env, "auth", "login", "--email", "new@example.com", "--password-stdin", "--insecure-storage",
                   input=PASSWORD + "\n").returncode == 0
        me = json.loads(run(env, "auth", "whoami", "--json").stdout)
        assert (me["role"], me["kyc_level"]) == ("guest", 0)
        status = json.loads(run(env, "db", "status", "--json").stdout)
        assert status["pid"] == pid, "the embedded server stays up between commands"
        assert status["schema_version"] == status["schema_head"]
        stopped = json.loads(run(env, "db", "stop", "--json").stdout)
        assert stopped["running"] is False
        assert json.loads(run(env, "auth", "whoami", "--json").stdout)["email"] == "new@example.com", \
            "the next command starts it again"
    finally:
        run(env, "db", "stop")


def test_status_of_an_external_database_hides_its_password(du):
    r = du("db", "status", "--json")
    assert r.exit_code == 0 and r.json()["mode"] == "external" and r.json()["running"] is True


def test_start_and_stop_refuse_an_external_database(du):
    assert du("db", "start", "--json").exit_code == 6
    assert du("db", "stop", "--json").exit_code == 6


def test_upgrade_is_idempotent(du):
    r = du("db", "upgrade", "--json")
    assert r.exit_code == 0 and r.json()["schema_version"] == r.json()["schema_head"]


def test_unreachable_external_database_exits_8(du):
    r = du("--database-url", "postgresql://du:secret@127.0.0.1:1/du", "db", "status", "--json")
    assert r.exit_code == 8 and "secret" not in r.stderr
