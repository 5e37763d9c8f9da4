"""Private files (POSIX): the data, config and log folders are 0700 and LedgerBridge's files 0600.

The settings, state store, lock and log name customers and the Halo instance; other local users must not
read them. (On Windows they live in the per-user profile, whose access list already keeps others out.)
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sync.paths import app_paths
from sync.settings import Settings
from tests.test_cli_never_strand import _configure
from tests.test_cli_setup import REPO

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes; Windows uses the profile's ACL")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_sync_leaves_every_folder_0700_and_every_file_0600_whatever_the_umask(tmp_path, halo_sandbox):
    env = _configure(tmp_path, halo_sandbox, sync={"entities": ["tax_rates", "customers"]})
    home = tmp_path / "home"
    (home / "config" / "settings.toml").chmod(0o644)  # as an older version (or a text editor) left it
    (home / "config").chmod(0o755)
    done = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$0" "$@"', sys.executable, str(REPO / "main.py"), "sync"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    paths = app_paths(home)
    for folder in (paths.config_dir, paths.data_dir, paths.log_dir):
        assert _mode(folder) == 0o700, folder
    files = [
        paths.settings_file,
        paths.state_file,
        paths.lock_file,
        paths.log_file,
        *paths.data_dir.glob("state.sqlite3-*"),
    ]
    assert paths.log_file.exists() and paths.state_file.exists()
    for file in files:
        assert _mode(file) & 0o077 == 0, (file, oct(_mode(file)))


def test_settings_are_saved_atomically_and_privately(tmp_path):
    previous = os.umask(0o022)
    target = tmp_path / "cfg" / "settings.toml"
    target.parent.mkdir(mode=0o755)
    target.write_text("[halo]\n", encoding="utf-8")
    target.chmod(0o644)
    settings = Settings()
    settings.halo.resource_server = "https://acme.halopsa.com"
    try:
        settings.save(target)
    finally:
        os.umask(previous)
    assert _mode(target) == 0o600 and _mode(target.parent) == 0o700
    assert Settings.load(target).halo.resource_server == "https://acme.halopsa.com"
    assert sorted(p.name for p in target.parent.iterdir()) == ["settings.toml"]  # no temp file left


def test_a_folder_the_user_made_read_only_stays_read_only(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        app_paths(tmp_path).ensure()
        assert _mode(folder) == 0o500  # group/other rights dropped, the owner's not added
    finally:
        folder.chmod(0o755)
