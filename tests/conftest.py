"""Test-wide set-up: an isolated LEDGERBRIDGE_HOME and a real file-backed keyring per test, Qt offscreen.

Each area keeps its fixtures in its own plugin module (listed in ``pytest_plugins``) so they stay apart.
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from sync.logs import remove_handlers

pytest_plugins = [
    "tests.fixtures_halo",
    "tests.fixtures_odbc",
    "tests.fixtures_sync",
    "tests.fixtures_gui",
]


class _TestKeyring(PlaintextKeyring):
    """keyrings.alt's real file backend, kept inside the test's temporary folder."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    @property
    def file_path(self) -> str:  # type: ignore[override]
        return self._path


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own config/data/log folders and keyring file; nothing leaks between tests."""
    home = tmp_path / "lbhome"
    monkeypatch.setenv("LEDGERBRIDGE_HOME", str(home))
    # Start-at-login writes $XDG_CONFIG_HOME/autostart; keep it (and other XDG data) inside the test.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    previous = keyring.get_keyring()
    keyring.set_keyring(_TestKeyring(str(tmp_path / "keyring.cfg")))
    levels = {name: logging.getLogger(name).level for name in ("", "urllib3", "ledgerbridge")}
    yield home
    keyring.set_keyring(previous)
    remove_handlers()  # what sync.logs.setup_logging attached writes into this test's tmp folder
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
