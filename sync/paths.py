"""Where LedgerBridge keeps its files on the user's machine (platformdirs).

``LEDGERBRIDGE_HOME`` overrides all three (config, data, logs) with one folder: the demo and the tests use it
so they never touch a real installation's files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "LedgerBridge"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "ledgerbridge.log"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "sync.lock"

    def ensure(self) -> AppPaths:
        for folder in (self.config_dir, self.data_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def app_paths(home: str | os.PathLike[str] | None = None) -> AppPaths:
    """The folders for this user; ``home`` (or $LEDGERBRIDGE_HOME) puts everything under one folder."""
    root = home or os.environ.get("LEDGERBRIDGE_HOME")
    if root:
        base = Path(root)
        return AppPaths(base / "config", base / "data", base / "logs")
    return AppPaths(
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
