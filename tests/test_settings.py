"""Settings file: round trip, validation with messages that name the key, never a secret in the file."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from sync.paths import app_paths
from sync.settings import ALL_ENTITIES, Settings


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
        (lambda s: setattr(s.sync, "entities", ["customers", "payroll"]), "payroll"),
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


def _load_error(tmp_path, text: str) -> str:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Settings.load(path)
    return info.value.message


def test_a_typo_is_an_error_that_names_the_key_and_its_line(tmp_path):
    message = _load_error(
        tmp_path, '[halo]\nclient_id = "abc"\n\n[sync]\nlookback_minutes = 5\nintervall_minutes = 30\n'
    )
    assert "sync.intervall_minutes" in message and "line 6" in message and "not a setting" in message


def test_a_wrong_type_names_the_key_its_line_and_what_it_should_be(tmp_path):
    message = _load_error(tmp_path, '[sync]\n\ninterval_minutes = "often"\n')
    assert message.startswith("sync.interval_minutes in ") and "line 3" in message
    assert "should be a whole number, not text in quotes" in message


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('[sync]\nentities = ["customers", 5]\n', "sync.entities", 2),
        ("[source.columns.customers]\nkey = 7\n", "source.columns.customers.key", 2),
        ('[source.columns]\ncustomers = { key = "ID", nam = 3 }\n', "source.columns.customers.nam", 2),
        ('[source.queries]\ncustomers = "SELECT 1"\nitems = false\n', "source.queries.items", 3),
        ("[app]\nstart_at_login = 1\n", "app.start_at_login", 2),
        ('halo = "x"\n', "halo", 1),
        ('[halo]\nresource_server = "https://a.example"\n[hallo]\nx = 1\n', "hallo", 3),
        ("[halo]\nrequests_per_5_minutes = true\n", "halo.requests_per_5_minutes", 2),
    ],
)
def test_nested_tables_are_checked_too(tmp_path, text, key, line):
    message = _load_error(tmp_path, text)
    assert message.startswith(f"{key} in ") and f"line {line}" in message, message


def test_a_negative_request_budget_in_the_file_says_what_it_should_be(tmp_path):
    message = _load_error(tmp_path, "[halo]\nrequests_per_5_minutes = -5\n")
    assert message.startswith("halo.requests_per_5_minutes in ") and "line 2" in message
    assert "should be a whole number >= 0" in message


def test_whole_numbers_are_accepted_where_a_number_is_expected(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[halo]\ntimeout_seconds = 30\nrequests_per_5_minutes = 0\n", encoding="utf-8")
    loaded = Settings.load(path)
    assert loaded.halo.timeout_seconds == 30.0 and isinstance(loaded.halo.timeout_seconds, float)
    assert loaded.halo.requests_per_5_minutes == 0


def test_suppliers_may_be_chosen_but_are_not_synced_by_default():
    assert "suppliers" in ALL_ENTITIES and "suppliers" not in Settings().sync.entities
    settings = Settings()
    settings.halo.resource_server = "https://acme.halopsa.com"
    settings.halo.client_id = "abc"
    settings.source.kind = "sage50uk"
    settings.sync.entities = [*settings.sync.entities, "suppliers"]
    settings.validate()


def test_a_negative_request_budget_is_refused():
    settings = Settings()
    settings.halo.resource_server = "https://acme.halopsa.com"
    settings.halo.client_id = "abc"
    settings.source.kind = "sage50uk"
    settings.halo.requests_per_5_minutes = -1
    with pytest.raises(ConfigError, match="requests_per_5_minutes"):
        settings.validate()
