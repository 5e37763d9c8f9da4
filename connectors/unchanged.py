"""Rows read before, unchanged: told by their cells' digest, so they are not converted again.

Why: on a full re-read nearly every row is as it was, and converting it (Decimals, aware datetimes, a
record) was half of the read and most of what the engine then threw away. When the engine knows a row's
digest from a run that found its record in step with Halo (``sync.known_rows``), a connector that can
tell its rows' cells apart cheaply yields ``Unchanged`` for it instead of the record.

The digest is of the row's cells as the driver gave them (with the child rows its record is built from:
an invoice's lines, ledger entries and receipts) and of a salt that covers everything else conversion and
planning read (the code, the settings, the links the record depends on; ``sync.known_rows``). A cell the
encoder cannot write (text that could not be decoded, an unknown driver type) gives no digest: that row
is converted as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from core.records import EntityName, Record, SourceProblem

_CELLS = msgspec.msgpack.Encoder()
DIGEST_BYTES = 16


class Unchanged(msgspec.Struct, frozen=True, gc=False):
    """A row whose cells digest as they did when its record was last found in step with Halo."""

    entity: EntityName
    key: str


# What reading yields: records, rows that could not be read, and (read_skipping) rows known unchanged.
ReadItem = Record | SourceProblem | Unchanged


def digest(salt: bytes, cells: Any) -> str:
    """The row's digest (hex), or "" when a cell cannot be written (the row is then converted)."""
    try:
        encoded = _CELLS.encode(cells)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return ""
    return hashlib.blake2b(encoded, digest_size=DIGEST_BYTES, key=salt[:64]).hexdigest()


class KnownRows:
    """What a connector asks while reading one stream: which of these keys' rows are known unchanged.

    ``lookup`` gives, for the keys that have one, the digest kept when their record was last found in step
    with Halo (one state query per page). The connector notes the digest of each row it does convert
    (``note``), so the engine can keep it if that record turns out unchanged after all.
    """

    def __init__(self, entity: str, salt: bytes, lookup: Callable[[Sequence[str]], dict[str, str]]) -> None:
        self.entity = entity
        self.salt = salt
        self._lookup = lookup
        self.noted: dict[str, str] = {}  # key -> digest of a converted row, until the engine takes it

    def kept(self, keys: Sequence[str]) -> dict[str, str]:
        """key -> the digest kept for it, for those of ``keys`` that have one."""
        return self._lookup(keys) if keys else {}

    def note(self, key: str, row_digest: str) -> None:
        if row_digest:
            self.noted[key] = row_digest

    def take(self, key: str) -> str:
        """The digest noted for ``key``'s converted row ("" when there is none), forgotten here."""
        return self.noted.pop(key, "")
