"""One sync at a time across processes (the tray app's timer, a scheduled ``sync``, a second window).

Why: two runs planning against the same links would both create a record Halo does not have yet. The lock is
an OS file lock (flock on POSIX, msvcrt on Windows), so it vanishes with the process that held it: a crash
never leaves a stale lock behind. The holder writes who it is after the locked byte so a refused run can say
who is running.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sync.paths import ensure_private_dir, make_private, storage_error

HOLDER_OFFSET = 1  # byte 0 is the one locked (Windows cannot read a locked range); the holder text follows
POLL_SECONDS = 0.05


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class SyncLock:
    """An exclusive cross-process lock on ``path``; ``acquire(timeout)`` waits up to ``timeout`` seconds."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._handle: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self, timeout: float = 0.0) -> bool:
        """True when this process now holds the lock; False when another holder kept it past ``timeout``."""
        if self._handle is not None:
            return True
        ensure_private_dir(self.path.parent)
        # O_RDWR without O_APPEND: the holder text must land at HOLDER_OFFSET, not at the end.
        flags = (
            os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)
        )  # O_BINARY: no newline translation on Windows
        try:
            handle = os.fdopen(os.open(self.path, flags, 0o600), "r+b")
        except OSError as exc:
            raise storage_error(exc, self.path.parent, "its lock file") from exc
        make_private(self.path)
        deadline = time.monotonic() + max(0.0, timeout)
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                handle.close()
                return False
            time.sleep(POLL_SECONDS)
        started = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
        try:
            handle.seek(HOLDER_OFFSET)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, started {started}".encode())
            handle.flush()
        except OSError:
            pass  # a full disk: the lock itself holds; only "who is running" is missing for a refused run
        self._handle = handle
        return True

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            with contextlib.suppress(OSError):
                handle.seek(HOLDER_OFFSET)
                handle.truncate()
                handle.flush()
            _unlock(handle)
        finally:
            handle.close()

    def holder(self) -> str:
        """Who holds the lock as the holder wrote it ('pid 1234, started ...'), or '' when nobody does."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(HOLDER_OFFSET)
                return handle.read(200).decode("utf-8", errors="replace").strip()
        except OSError:
            return ""

    def __enter__(self) -> SyncLock:
        if not self.acquire():
            raise TimeoutError(f"the sync lock {self.path} is held by {self.holder() or 'another process'}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
