"""Every command keeps the CLI contract: --help works; with --json, stdout or stderr is JSON."""

from __future__ import annotations

import json

import pytest

from du_cli.completions import command_tree

LEAVES = sorted(path for path, (subs, _) in command_tree().items() if path and not subs)


def test_the_tree_has_the_commands_of_this_release():
    for expected in ("auth register", "auth login", "auth whoami", "users list", "admin bootstrap",
                     "admin audit verify", "client profile show", "db status"):
        assert expected in LEAVES


@pytest.mark.parametrize("path", LEAVES)
def test_every_command_has_help(du, path):
    r = du(*path.split(), "--help")
    assert r.exit_code == 0 and "Usage" in r.stdout and r.stderr == ""


def test_every_command_prints_json_or_a_json_error(du):
    du.user_as("guest", "walker@example.com")
    for path in LEAVES:
        r = du(*path.split(), "--json")
        if r.exit_code == 0:
            json.loads(r.stdout)
            assert r.stderr == "", path
        else:
            assert r.stdout == "", path
            error = json.loads(r.stderr)["error"]
            assert error["code"] and error["message"], path


def test_tables_off_a_terminal_have_no_colour_or_box_drawing(du):
    du.user_as("guest", "plain@example.com")
    out = du("auth", "whoami").stdout
    assert "\x1b[" not in out and not set(out) & set("│─┏┃╭")
    assert out.splitlines()[0].split("\t")[0] == "id"


def test_du_output_json_makes_json_the_default(du):
    du.user_as("guest", "auto@example.com")
    assert json.loads(du("auth", "whoami", env={"DU_OUTPUT": "json"}).stdout)["email"] == "auto@example.com"
