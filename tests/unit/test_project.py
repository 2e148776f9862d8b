"""Promises the repository makes to a new user and to CI."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_start_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```sh\n(.*?)```", text, re.S)
    assert block, "README has a Quick start code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_exactly_two_commands():
    assert len(quick_start_lines()) == 2


def test_ci_runs_the_readme_test_command_and_nothing_else():
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == [quick_start_lines()[1]]


def test_core_imports_no_front_end():
    bad = re.compile(r"^\s*(from|import)\s+(typer|textual|rich|click|du_cli|du_tui)\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "du_core").rglob("*.py") if bad.search(p.read_text())]
    assert offenders == []


def test_schema_head_constant_matches_the_newest_migration():
    from du_core.db import migrate
    from du_core.db.engine import SCHEMA_HEAD

    assert migrate.head() == SCHEMA_HEAD


def test_import_linter_contract_holds():
    import shutil
    import subprocess
    import sys

    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
