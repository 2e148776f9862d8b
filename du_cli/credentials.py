"""Where the CLI keeps a profile's session tokens.

In order: `DU_TOKEN` (an access token for automation, never stored), the profile's file if the
user opted into `--insecure-storage` (0600 in a 0700 directory), the OS keyring. With no keyring
backend the CLI fails closed and names the two ways on; it never falls back to a file silently.
Every keyring call runs in a thread with a deadline, as a locked or absent keyring can hang.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from du_core.config import Settings
from du_core.errors import CredentialStoreUnavailable

SERVICE = "digital-utopia"
KEYRING_TIMEOUT = 5.0
T = TypeVar("T")

WAYS_ON = (
    "either set DU_TOKEN to an access token (for automation), or log in with --insecure-storage "
    "to keep the session in a file only you can read"
)
NO_KEYRING = "no OS keyring is available to store your session; " + WAYS_ON


@dataclass
class StoredSession:
    access_token: str
    refresh_token: str | None
    access_expires_at: str | None
    user_id: str | None
    source: str = "keyring"  # env, keyring or file


def session_file(settings: Settings) -> Path:
    return settings.config_dir / "credentials" / f"{settings.profile}.json"


def load(settings: Settings) -> StoredSession | None:
    """The profile's session, or None when not logged in."""
    token = os.environ.get("DU_TOKEN")
    if token:
        return StoredSession(access_token=token.strip(), refresh_token=None, access_expires_at=None,
                             user_id=None, source="env")
    path = session_file(settings)
    if path.exists():
        return _parse(path.read_text(encoding="utf-8"), "file")
    raw = _with_keyring(lambda kr: kr.get_password(SERVICE, settings.profile), missing_ok=True)
    return _parse(raw, "keyring") if raw else None


def _parse(raw: str, source: str) -> StoredSession | None:
    try:
        data = json.loads(raw)
        return StoredSession(**{**data, "source": source})
    except (ValueError, TypeError):
        return None


def ensure_storable(settings: Settings, *, insecure_storage: bool) -> None:
    """Fail before logging in if the session could not be kept afterwards."""
    if insecure_storage or session_file(settings).exists():
        return
    _with_keyring(lambda kr: None)


def save(settings: Settings, session: StoredSession, *, insecure_storage: bool = False) -> str:
    """Store the session; return where it went ("keyring" or "file")."""
    data = json.dumps({k: v for k, v in asdict(session).items() if k != "source"})
    path = session_file(settings)
    if insecure_storage or path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return "file"
    _with_keyring(lambda kr: kr.set_password(SERVICE, settings.profile, data))
    return "keyring"


def forget(settings: Settings) -> None:
    """Remove the profile's stored session wherever it is."""
    path = session_file(settings)
    if path.exists():
        path.unlink()
        return

    def delete(kr: Any) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            kr.delete_password(SERVICE, settings.profile)
        except PasswordDeleteError:
            pass

    _with_keyring(delete, missing_ok=True)


def _with_keyring(fn: Callable[[Any], T], *, missing_ok: bool = False) -> T | None:
    """Run `fn(backend)` with a deadline; without a usable backend raise (or return None)."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            import keyring
            from keyring.backends import chainer, fail

            backend = keyring.get_keyring()
            # keyring rates backends below priority 1 (plain files, for one) as not secure; such a
            # backend is used only when the user chose it explicitly.
            chosen = bool(os.environ.get("PYTHON_KEYRING_BACKEND"))
            if isinstance(backend, fail.Keyring) or (
                isinstance(backend, chainer.ChainerBackend) and not backend.backends
            ) or (not chosen and getattr(backend, "priority", 0) < 1):
                outcome["missing"] = True
                return
            outcome["value"] = fn(backend)
        except Exception as exc:  # noqa: BLE001 - reported below as one message
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="keyring", daemon=True)
    thread.start()
    thread.join(KEYRING_TIMEOUT)
    if thread.is_alive():
        raise CredentialStoreUnavailable(f"the OS keyring did not answer within {KEYRING_TIMEOUT:.0f} s; " + WAYS_ON)
    if outcome.get("missing"):
        if missing_ok:
            return None
        raise CredentialStoreUnavailable(NO_KEYRING)
    if "error" in outcome:
        raise CredentialStoreUnavailable(f"the OS keyring failed ({type(outcome['error']).__name__}); " + WAYS_ON)
    return outcome.get("value")
