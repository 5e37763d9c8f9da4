"""Every sqlite3 error of the state store becomes a message that says what to do (sync.state.state_error).

The real failures (a full tmpfs, a read-only mount, a damaged file) run through the CLI in
tests/test_cli_failures.py; this pins the wording for the texts SQLite gives, including ones those
tests cannot produce on demand (a lock held by another program, a disk I/O error).
"""

from __future__ import annotations

import sqlite3

import pytest

from core.errors import ConfigError, TransientError
from sync.state import state_error


@pytest.mark.parametrize(
    ("error", "kind", "phrase"),
    [
        (sqlite3.OperationalError("database or disk is full"), ConfigError, "is full"),
        (sqlite3.OperationalError("database is locked"), TransientError, "Another program is holding"),
        (sqlite3.OperationalError("attempt to write a readonly database"), ConfigError, "may not write to"),
        (sqlite3.DatabaseError("file is not a database"), ConfigError, "is damaged"),
        (sqlite3.DatabaseError("database disk image is malformed"), ConfigError, "is damaged"),
        (sqlite3.OperationalError("disk I/O error"), ConfigError, "the disk reported an error"),
    ],
)
def test_sqlite_errors_become_messages_with_what_to_do(tmp_path, error, kind, phrase):
    result = state_error(error, str(tmp_path / "state.sqlite3"))
    assert type(result) is kind
    assert phrase.lower() in str(result).lower()
    assert result.action


def test_damage_says_rename_it_and_everything_is_relinked_by_key(tmp_path):
    text = str(state_error(sqlite3.DatabaseError("file is not a database"), str(tmp_path / "s.sqlite3")))
    assert "LedgerBridge's record of what it synced" in text
    assert "relinks everything by key on the next run" in text
