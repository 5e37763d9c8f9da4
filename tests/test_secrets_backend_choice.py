"""A plain-text keyring the user named (PYTHON_KEYRING_BACKEND or keyringrc.cfg) is their explicit choice:
honoured with a warning in the log. One keyring found by itself is refused, naming what it found."""

from __future__ import annotations

import logging

import pytest

from core.errors import ConfigError
from sync import secrets as secrets_module
from sync.secrets import HALO_CLIENT_SECRET, KeyringSecretStore
from tests.test_cli_setup import _configured, cli_env, run_cli

PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(secrets_module, "_warned", set())
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)


def test_a_plaintext_backend_named_in_the_environment_is_honoured_with_a_warning(monkeypatch, caplog):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    store = KeyringSecretStore()  # plain text NOT allowed in the settings
    with caplog.at_level(logging.WARNING, logger="ledgerbridge.secrets"):
        store.set(HALO_CLIENT_SECRET, "chosen-by-the-user-1")
        assert store.get(HALO_CLIENT_SECRET) == "chosen-by-the-user-1"
    warnings = [r.getMessage() for r in caplog.records if r.name == "ledgerbridge.secrets"]
    assert len(warnings) == 1, "warned once, not per secret"
    assert "plain text" in warnings[0] and "PYTHON_KEYRING_BACKEND" in warnings[0]


def test_a_plaintext_backend_named_in_keyringrc_is_honoured(tmp_path, caplog):
    config = tmp_path / "xdg-config" / "python_keyring" / "keyringrc.cfg"  # conftest's XDG_CONFIG_HOME
    config.parent.mkdir(parents=True)
    config.write_text(f"[backend]\ndefault-keyring = {PLAINTEXT}\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="ledgerbridge.secrets"):
        KeyringSecretStore().check()
    assert any(str(config) in r.getMessage() for r in caplog.records)


def test_another_backend_named_does_not_make_plain_text_acceptable(monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")
    with pytest.raises(ConfigError, match="plain text") as caught:
        KeyringSecretStore().check()
    assert "tests.conftest._TestKeyring" in caught.value.message, "the refusal names the backend it found"


def test_the_cli_honours_an_explicit_backend_and_says_so_in_its_log(tmp_path):
    _configured(tmp_path, allow_plaintext=False)
    env = cli_env(tmp_path)  # names keyrings.alt's plain-text backend explicitly
    stored = run_cli(env, "secret", "set", "halo.client_secret", stdin="explicit-choice-secret\n")
    assert stored.returncode == 0, stored.stderr
    result = run_cli(env, "sync")  # Halo is unreachable here (port 9): the keyring is what is tested
    assert "stores secrets in plain text" not in result.stdout + result.stderr
    logs = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "home").rglob("*.log"))
    assert "Secrets are kept in plain text" in logs and "PYTHON_KEYRING_BACKEND" in logs
    assert "explicit-choice-secret" not in logs + result.stdout + result.stderr
