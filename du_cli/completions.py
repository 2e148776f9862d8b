"""Static shell completions for bash, zsh and fish, generated from the command tree.

Static scripts complete instantly (no Python start per TAB). They are regenerated with
`python -m du_cli.completions completions/`, and a test fails when the committed ones are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path


def command_tree() -> dict[str, tuple[list[tuple[str, str]], list[str]]]:
    """Every command path ("" for the root) -> (its subcommands with help, its options)."""
    import typer.main

    from du_cli.main import app

    tree: dict[str, tuple[list[tuple[str, str]], list[str]]] = {}

    def walk(cmd, path: str) -> None:  # type: ignore[no-untyped-def]
        subs = sorted(getattr(cmd, "commands", {}).items())
        options = sorted({o for p in cmd.params if p.param_type_name == "option"
                          for o in [*p.opts, *p.secondary_opts] if o.startswith("--")} | {"--help"})
        options = [o for o in options if o not in ("--install-completion", "--show-completion")]
        tree[path] = ([(name, (sub.get_short_help_str(60) or "").replace("'", "’")) for name, sub in subs], options)
        for name, sub in subs:
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    return tree


def bash(tree: dict[str, tuple[list[tuple[str, str]], list[str]]]) -> str:
    known = " ".join(f"'{p}'" for p in tree if p)
    cases = "\n".join(
        f"        '{path}') words_here='{' '.join([n for n, _ in subs] + opts)}' ;;" for path, (subs, opts) in tree.items()
    )
    return f"""# bash completion for du (Digital Utopia). Generated: python -m du_cli.completions
_du() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" word candidate known words_here=""
    known=({known})
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        [[ "$word" == -* ]] && continue
        candidate="${{path:+$path }}$word"
        for k in "${{known[@]}}"; do
            if [[ "$k" == "$candidate" ]]; then path="$candidate"; break; fi
        done
    done
    case "$path" in
{cases}
    esac
    COMPREPLY=($(compgen -W "$words_here" -- "$cur"))
}}
complete -o default -F _du du
"""


def zsh(tree: dict[str, tuple[list[tuple[str, str]], list[str]]]) -> str:
    return "#compdef du\n# zsh completion for du (Digital Utopia), through zsh's bash completion layer.\n" \
           "autoload -U +X bashcompinit && bashcompinit\n" + bash(tree).split("\n", 1)[1]


def fish(tree: dict[str, tuple[list[tuple[str, str]], list[str]]]) -> str:
    known = " ".join(f"'{p}'" for p in tree if p)
    lines = [
        "# fish completion for du (Digital Utopia). Generated: python -m du_cli.completions",
        "function __du_path",
        f"    set -l known {known}",
        "    set -l path ''",
        "    for word in (commandline -opc)[2..-1]",
        "        string match -q -- '-*' $word; and continue",
        "        set -l candidate (string trim -- \"$path $word\")",
        "        contains -- $candidate $known; and set path $candidate",
        "    end",
        "    echo $path",
        "end",
        "complete -c du -f",
    ]
    for path, (subs, opts) in tree.items():
        cond = f"-n \"test (__du_path) = '{path}'\""
        for name, help_text in subs:
            lines.append(f"complete -c du {cond} -a {name} -d '{help_text}'")
        for opt in opts:
            lines.append(f"complete -c du {cond} -l {opt[2:]}")
    return "\n".join(lines) + "\n"


GENERATORS = {"du.bash": bash, "du.zsh": zsh, "du.fish": fish}


def generate(directory: Path) -> list[Path]:
    tree = command_tree()
    written = []
    for name, make in GENERATORS.items():
        path = directory / name
        path.write_text(make(tree), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in generate(Path(sys.argv[1] if len(sys.argv) > 1 else "completions")):
        print(p)
