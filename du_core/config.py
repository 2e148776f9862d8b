"""Settings of a running platform, from the environment and an optional config file.

Precedence, highest first: explicit arguments (the CLI's global options), `DU_*` environment
variables, the config file (`$DU_CONFIG` or `<user config dir>/config.toml`), defaults.
The config file is TOML:

    database_url = "postgresql://du@db.internal/du"   # omit to use the embedded server
    output = "table"                                    # or "json", "csv"

    [profiles.desk]                                     # values for `--profile desk`
    database_url = "postgresql://..."
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from du_core.errors import InvalidInput

APP_NAME = "digital-utopia"


def _default_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def _default_config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


@dataclass(frozen=True)
class Settings:
    """Where the platform keeps its data and how it reaches its database."""

    data_dir: Path
    config_dir: Path
    database_url: str | None = None
    profile: str = "default"
    output: str | None = None
    debug: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def pgdata(self) -> Path:
        """The embedded server's cluster directory."""
        return self.data_dir / "pgdata"

    @property
    def outbox_file(self) -> Path:
        """Where the default notification sender writes messages for the operator to read."""
        return self.data_dir / "outbox.log"

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with the given non-None fields replaced."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _read_config_file(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}") from None


def load_settings(*, profile: str | None = None, database_url: str | None = None) -> Settings:
    """Resolve the settings for one process, validating the profile name."""
    env = os.environ
    profile = profile or env.get("DU_PROFILE") or "default"
    if not profile.replace("-", "").replace("_", "").isalnum() or len(profile) > 64:
        raise InvalidInput(
            "profile names use letters, digits, '-' and '_' (at most 64)", details={"profile": profile}
        )
    config_dir = Path(env["DU_CONFIG_DIR"]) if env.get("DU_CONFIG_DIR") else _default_config_dir()
    config_path = Path(env["DU_CONFIG"]) if env.get("DU_CONFIG") else config_dir / "config.toml"
    file_values = _read_config_file(config_path)
    profiles = file_values.get("profiles", {})
    profile_values = profiles.get(profile, {}) if isinstance(profiles, dict) else {}

    def pick(key: str, env_name: str) -> str | None:
        for source in (env.get(env_name), profile_values.get(key), file_values.get(key)):
            if source:
                return str(source)
        return None

    data_dir = Path(env["DU_DATA_DIR"]) if env.get("DU_DATA_DIR") else _default_data_dir()
    return Settings(
        data_dir=data_dir,
        config_dir=config_dir,
        database_url=database_url or pick("database_url", "DU_DATABASE_URL"),
        profile=profile,
        output=pick("output", "DU_OUTPUT"),
        debug=env.get("DU_DEBUG", "") not in ("", "0", "false"),
        extra={k: v for k, v in file_values.items() if k not in ("profiles",)},
    )
