"""Where LedgerBridge keeps its files on the user's machine (platformdirs), and keeping them private.

``LEDGERBRIDGE_HOME`` overrides all three (config, data, logs) with one folder: the demo and the tests use it
so they never touch a real installation's files.

The files name customers and the Halo instance, so on POSIX the folders are 0700 and the files 0600 (other
local users cannot read them). On Windows the folders live in the user's profile (AppData), whose access
list already admits only that user, the administrators and SYSTEM; no mode bits are set there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from core.errors import ConfigError

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
        """Create the three folders (private); a folder that cannot be made is a message, not a crash."""
        for folder in (self.config_dir, self.data_dir, self.log_dir):
            ensure_private_dir(folder)
        make_private(self.settings_file)  # one an older version (or an editor) left readable by others
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


POSIX = sys.platform != "win32"
FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
DENIED_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


def ensure_private_dir(folder: Path) -> None:
    """``folder`` exists and (POSIX) other users may not enter it (group/other bits dropped: 0700).

    Only ever takes rights away: a folder the user made read-only stays read-only (and says so later).
    """
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, folder, "its folder") from exc
    _drop_others(folder)


def make_private(path: Path) -> None:
    """(POSIX) other users may not read ``path`` (group/other bits dropped: 0600 for a new file)."""
    _drop_others(path)


def _drop_others(path: Path) -> None:
    if not POSIX:
        return  # Windows: the per-user profile's access list already keeps other users out
    with contextlib.suppress(OSError):  # not ours to change (a shared LEDGERBRIDGE_HOME): leave it
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & 0o700)


def storage_error(exc: OSError, path: Path, what: str) -> ConfigError:
    """A failure to write LedgerBridge's own files, in words that say what to do."""
    if exc.errno in FULL_ERRNOS:
        return ConfigError(
            f"The disk holding {path} is full: LedgerBridge could not save {what}.",
            action="Free some space on that disk, then sync again; everything Halo confirmed so far is kept.",
            detail=repr(exc),
        )
    if exc.errno in DENIED_ERRNOS or isinstance(exc, PermissionError):
        return ConfigError(
            f"LedgerBridge may not write to {path} (the folder is read-only or this user has no permission).",
            action="Give this user write access to that folder (or point LEDGERBRIDGE_HOME at a folder it "
            "can write), then try again.",
            detail=repr(exc),
        )
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return ConfigError(
            f"{path} is in the way: a file stands where LedgerBridge needs a folder.",
            action="Rename or move that file, then try again.",
            detail=repr(exc),
        )
    return ConfigError(
        f"LedgerBridge could not save {what} in {path} ({exc.strerror or exc}).",
        action="Check the disk and the folder's permissions, then try again.",
        detail=repr(exc),
    )
