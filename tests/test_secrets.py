"""Secrets live in a real keyring backend; no usable or only a plain-text backend is refused clearly."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring
from keyrings.alt.file import PlaintextKeyring

from core.errors import ConfigError
from sync.secrets import HALO_CLIENT_SECRET, SERVICE, KeyringSecretStore, MemorySecretStore


def test_round_trip_through_the_real_file_backend(tmp_path):
    store = KeyringSecretStore(
        allow_plaintext=True
    )  # the test keyring (conftest) is keyrings.alt's file backend
    store.set(HALO_CLIENT_SECRET, "s3cr3t-välue")
    assert store.get(HALO_CLIENT_SECRET) == "s3cr3t-välue"
    assert keyring.get_password(SERVICE, HALO_CLIENT_SECRET) == "s3cr3t-välue"
    store.delete(HALO_CLIENT_SECRET)
    store.delete(HALO_CLIENT_SECRET)  # deleting twice is not an error
    assert store.get(HALO_CLIENT_SECRET) is None


def test_plaintext_backend_needs_the_users_explicit_choice():
    assert isinstance(keyring.get_keyring(), PlaintextKeyring)
    with pytest.raises(ConfigError, match="plain text") as info:
        KeyringSecretStore().set(HALO_CLIENT_SECRET, "x")
    assert "gnome-keyring" in info.value.action


def test_no_backend_says_how_to_fix_it():
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        with pytest.raises(ConfigError, match="No keyring"):
            KeyringSecretStore(allow_plaintext=True).get(HALO_CLIENT_SECRET)
    finally:
        keyring.set_keyring(previous)


def test_memory_store_never_shows_values():
    store = MemorySecretStore({HALO_CLIENT_SECRET: "hunter2-very-secret"})
    assert store.get(HALO_CLIENT_SECRET) == "hunter2-very-secret"
    assert "hunter2" not in repr(store)


def test_every_secret_a_store_handles_is_scrubbed_from_logs():
    from core.scrub import scrub

    store = KeyringSecretStore(allow_plaintext=True)
    store.set(HALO_CLIENT_SECRET, "written-through-the-keyring-1")
    keyring.set_password(SERVICE, "source.password", "read-from-the-keyring-2")
    assert store.get("source.password") == "read-from-the-keyring-2"
    MemorySecretStore({HALO_CLIENT_SECRET: "held-in-memory-3"})
    line = scrub("written-through-the-keyring-1 read-from-the-keyring-2 held-in-memory-3")
    assert "keyring-1" not in line and "keyring-2" not in line and "memory-3" not in line
