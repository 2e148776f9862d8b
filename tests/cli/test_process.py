"""The installed `du` as a whole process: start-up imports, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DU = str(Path(sys.executable).parent / "du")


def run(*args: str, env: dict[str, str] | None = None, input: str = "") -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DU_")}
    return subprocess.run([DU, *args], capture_output=True, text=True, input=input, env={**base, **(env or {})},
                          timeout=60)


def test_importing_the_cli_loads_no_tui_pandas_or_database_stack():
    code = ("import sys, json, du_cli.main; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    assert not loaded & {"textual", "pandas", "du_tui", "sqlalchemy", "psycopg", "alembic", "keyring"}


def test_help_works_and_documents_exit_codes():
    r = run("--help")
    assert r.returncode == 0 and "Exit codes" in r.stdout


def test_unreachable_database_exits_8_with_one_line_and_no_traceback(tmp_path):
    r = run("auth", "whoami", env={"DU_DATABASE_URL": "postgresql://du@127.0.0.1:1/du", "DU_TOKEN": "dua_x",
                                   "DU_CONFIG_DIR": str(tmp_path)})
    assert r.returncode == 8
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "unreachable" in r.stderr


def test_unreachable_database_with_json_is_a_json_error(tmp_path):
    r = run("auth", "whoami", "--json", env={"DU_DATABASE_URL": "postgresql://du@127.0.0.1:1/du",
                                             "DU_TOKEN": "dua_x", "DU_CONFIG_DIR": str(tmp_path)})
    assert r.returncode == 8 and json.loads(r.stderr)["error"]["code"] == "database_unavailable"


def test_a_bug_is_one_line_without_traceback_unless_du_debug(tmp_path):
    env = {"DU_DATABASE_URL": "postgresql://du@[::1/du", "DU_TOKEN": "dua_x", "DU_CONFIG_DIR": str(tmp_path)}
    r = run("auth", "whoami", env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "DU_DEBUG=1" in r.stderr
    debug = run("auth", "whoami", env={**env, "DU_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_usage_errors_exit_2_and_are_json_with_json():
    r = run("auth", "login", "--no-such-option", "--json")
    assert r.returncode == 2 and json.loads(r.stderr)["error"]["code"] == "usage_error" and r.stdout == ""


def test_unknown_output_format_is_a_usage_error():
    r = run("db", "status", "-o", "yaml")
    assert r.returncode == 2 and "table, json, csv" in r.stderr
