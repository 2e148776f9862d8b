"""Exit codes: the CLI's contract (CLI.md), mapped from the core's error kinds in one place."""

from __future__ import annotations

import json
import sys

from du_core.errors import DomainError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CODES = {"input": 3, "not_found": 4, "auth": 5, "conflict": 6, "throttled": 7, "unavailable": 8, "internal": 1}

EXIT_HELP = """Exit codes: 0 success, 1 internal error, 2 usage error, 3 invalid input, 4 not found,
5 not authenticated or not permitted, 6 conflict with current state, 7 throttled or locked,
8 service unavailable (database, maintenance, trading disabled)."""


def exit_code(err: DomainError) -> int:
    return EXIT_CODES.get(err.kind, EXIT_INTERNAL)


def report(code: str, message: str, *, details: dict | None = None, as_json: bool) -> None:
    """Write one error line to stderr: plain text, or the JSON error document."""
    if as_json:
        doc = {"error": {"code": code, "message": message, "details": details or {}}}
        sys.stderr.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stderr.write(f"error: {message}\n")


def report_domain(err: DomainError, *, as_json: bool) -> int:
    report(err.code, err.message, details=err.details, as_json=as_json)
    return exit_code(err)
