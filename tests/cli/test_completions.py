"""The committed shell completions match the command tree, and bash completes with them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from du_cli.completions import GENERATORS, generate

COMMITTED = Path(__file__).resolve().parents[2] / "completions"


def test_committed_completions_are_current(tmp_path):
    generate(tmp_path)
    for name in GENERATORS:
        assert (tmp_path / name).read_text() == (COMMITTED / name).read_text(), (
            f"completions/{name} is stale: run python -m du_cli.completions completions")


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("words,expected", [
    ("du au", {"auth"}),
    ("du auth mfa ", {"enable", "confirm", "disable", "--help"}),
    ("du --profile desk auth log", {"login", "logout"}),
    ("du auth login --pa", {"--password-stdin"}),
])
def test_bash_completes_commands_and_options(words, expected):
    script = (f"source {COMMITTED / 'du.bash'}; COMP_WORDS=({words}{' ' if words.endswith(' ') else ''}); "
              f"COMP_WORDS+=(''); " if words.endswith(" ") else f"source {COMMITTED / 'du.bash'}; COMP_WORDS=({words}); ")
    script += 'COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _du; printf "%s\\n" "${COMPREPLY[@]}"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert set(out.split()) == expected
