"""Settings from the environment and the config file, in that order of precedence."""

from __future__ import annotations

import pytest

from du_core.config import load_settings
from du_core.errors import InvalidInput


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("DU_DATABASE_URL", "DU_PROFILE", "DU_OUTPUT", "DU_CONFIG", "DU_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DU_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("DU_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_defaults_use_the_embedded_database(clean_env):
    s = load_settings()
    assert s.database_url is None and s.profile == "default" and s.pgdata == clean_env / "data" / "pgdata"


def test_config_file_and_profile_sections(clean_env):
    (clean_env / "config.toml").write_text(
        'database_url = "postgresql://file/du"\noutput = "json"\n[profiles.desk]\ndatabase_url = "postgresql://desk/du"\n')
    assert load_settings().database_url == "postgresql://file/du"
    assert load_settings().output == "json"
    assert load_settings(profile="desk").database_url == "postgresql://desk/du"


def test_environment_beats_the_file_and_arguments_beat_both(clean_env, monkeypatch):
    (clean_env / "config.toml").write_text('database_url = "postgresql://file/du"\n')
    monkeypatch.setenv("DU_DATABASE_URL", "postgresql://env/du")
    assert load_settings().database_url == "postgresql://env/du"
    assert load_settings(database_url="postgresql://arg/du").database_url == "postgresql://arg/du"


def test_a_broken_config_file_is_invalid_input(clean_env):
    (clean_env / "config.toml").write_text("database_url = \n")
    with pytest.raises(InvalidInput):
        load_settings()


@pytest.mark.parametrize("name", ["../etc", "a b", "x" * 65, "desk;rm"])
def test_profile_names_are_plain(clean_env, name):
    with pytest.raises(InvalidInput):
        load_settings(profile=name)
