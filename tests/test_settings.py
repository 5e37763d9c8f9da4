"""Settings file: round trip, validation with messages that name the key, never a secret in the file."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from sync.paths import app_paths
from sync.settings import Settings


def test_round_trip_keeps_every_value(tmp_path):
    settings = Settings()
    settings.halo.resource_server = "https://acme.halopsa.com"
    settings.halo.client_id = "abc"
    settings.source.kind = "odbc"
    settings.source.queries = {"customers": "SELECT * FROM c"}
    settings.source.columns = {"customers": {"key": "ID", "name": "NAME"}}
    settings.sync.entities = ["customers"]
    settings.sync.toplevel_id = 12
    settings.halo.timeout_seconds = 30
    path = tmp_path / "settings.toml"
    settings.save(path)
    loaded = Settings.load(path)
    assert loaded == settings
    assert loaded.is_configured()
    text = path.read_text()
    assert "client_secret" not in text and "password" not in text.lower()


def test_missing_file_means_not_configured(tmp_path):
    assert not Settings.load(tmp_path / "nope.toml").is_configured()


def test_wrong_type_names_the_key(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[sync]\ninterval_minutes = "often"\n')
    with pytest.raises(ConfigError, match=r"sync\.interval_minutes"):
        Settings.load(path)


def test_broken_toml_says_what_to_do(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[halo\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(path)
    assert "Fix or delete it" in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: setattr(s.halo, "resource_server", ""), "resource server"),
        (lambda s: setattr(s.halo, "client_id", ""), "client ID"),
        (lambda s: setattr(s.source, "kind", "sage2000"), "Unknown accounting package"),
        (lambda s: setattr(s.sync, "entities", ["customers", "suppliers"]), "suppliers"),
        (lambda s: setattr(s.sync, "interval_minutes", 0), "interval"),
    ],
)
def test_validate_names_the_first_problem(change, message):
    settings = Settings()
    settings.halo.resource_server = "https://acme.halopsa.com"
    settings.halo.client_id = "abc"
    settings.source.kind = "sage50uk"
    settings.validate()
    change(settings)
    with pytest.raises(ConfigError, match=message):
        settings.validate()


def test_ledgerbridge_home_keeps_everything_in_one_folder(isolated_home):
    paths = app_paths().ensure()
    assert paths.settings_file.is_relative_to(isolated_home)
    assert paths.state_file.is_relative_to(isolated_home)
    assert paths.log_dir.is_dir()
