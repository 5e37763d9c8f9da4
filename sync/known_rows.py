"""The engine's half of not converting unchanged rows: what a link keeps of its rows, and their salt.

Why: a full re-read (after *Retry these*, a cursor reset, a source without reliable modified dates) used
to convert every row and build every record only to find it unchanged. A record found in step with Halo
(it and everything riding with it: an invoice's payments, a customer's main site) keeps, in its link, the
digest of the rows it was read from, how many riders were in step with it, and its modified date:
``<content hash>/<inputs' fingerprint>/<digest>;<riders>;<modified>``. On the next read the connector
yields ``Unchanged`` for a row with that digest (``connectors.unchanged``), and the engine counts it, and
its riders, unchanged without converting or planning it.

What else a record's payload depends on is in the salt, so any change there converts every row again:
- the code that converts and plans (the project's source, or the installed build);
- the settings (less those that only say how and when a sync runs), the connector's context (its
  package, zone, driver, and what else its converters read) and the entity;
- the state store's count of changes that can move a record's Halo ids without its rows changing (a link
  re-pointed or dropped, a rider's hash cleared, a mapping set: ``StateStore.changes``), looked at again
  for every page.
A record is kept this way only when everything it was built from is a link or a mapping (not a tax found
by its rate in Halo's list, not an item that had no link), so nothing but those can have moved.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import msgspec

from connectors.unchanged import KnownRows
from halo import payloads
from sync.settings import Settings
from sync.state import StateStore

ROWS_SEPARATOR = ";"
# The packages whose code converts rows or plans records: a change to any of them voids every digest.
CODE_PACKAGES = ("connectors", "core", "halo", "sync")


@dataclass(slots=True, eq=False)
class InStep:
    """A record whose link keeps its rows' digest once it and every record riding with it are in step.

    Riders queued while it settles (its payments, its main site) are counted in ``waiting`` and out again
    as Halo confirms each; a failure while it settles breaks it. Only a record with none waiting, none
    failed, and its own settling over keeps a digest: anything else (a refusal, a replan, a stop) leaves
    its link without one, and its rows are converted on the next read.
    """

    entity: str
    key: str
    stored: str  # its link's stored hash as it is when the digest is added (the UPDATE's condition)
    digest: str
    modified: datetime | None
    riders: int = 0  # riders in step so far (unchanged, or confirmed)
    waiting: int = 0
    settling: bool = False
    done: bool = False  # kept, or broken: nothing more to do
    kept: bool = False  # its digest was kept

    def ready(self) -> bool:
        return not (self.done or self.settling or self.waiting)


@dataclass(frozen=True, slots=True)
class KeptRows:
    """What a link keeps of the rows its record was last found in step with Halo from."""

    stored: str  # the link's whole stored hash
    digest: str
    riders: int  # records riding with it that were in step too (an invoice's payments)
    modified: datetime | None


def stored_with_rows(stored: str, digest: str, riders: int, modified: datetime | None) -> str:
    """``stored`` (content hash and inputs' fingerprint) with the rows' digest, riders and modified date."""
    content, inputs = payloads.split_stored_hash(stored)
    when = modified.isoformat() if modified is not None else ""
    rows = ROWS_SEPARATOR.join((digest, str(riders), when))
    return payloads.FINGERPRINT_SEPARATOR.join((content, inputs, rows))


def stored_without_rows(stored: str) -> str:
    """``stored`` as it was before its rows' digest was kept."""
    content, inputs = payloads.split_stored_hash(stored)
    return payloads.stored_hash(content, inputs)


def kept_rows(stored: str) -> KeptRows | None:
    """The rows part of a stored hash; None when it has none or it cannot be read."""
    parts = stored.split(payloads.FINGERPRINT_SEPARATOR)
    if len(parts) != 3 or not parts[1]:
        return None
    fields = parts[2].split(ROWS_SEPARATOR)
    if len(fields) != 3 or not fields[0] or not fields[1].isdigit():
        return None
    try:
        modified = datetime.fromisoformat(fields[2]) if fields[2] else None
    except ValueError:
        return None
    if modified is not None and modified.tzinfo is None:
        return None
    return KeptRows(stored, fields[0], int(fields[1]), modified)


@cache
def code_digest() -> bytes:
    """A digest of the code that converts and plans: its source files, or the installed build's program."""
    hasher = hashlib.blake2b(digest_size=32)
    if getattr(sys, "frozen", False):  # an installed build holds its code in the program: a new build is a
        status = os.stat(sys.executable)  # new program (any .py files beside it are not what runs)
        hasher.update(f"{sys.executable}\0{status.st_size}\0{status.st_mtime_ns}".encode())
        return hasher.digest()
    root = Path(__file__).resolve().parent.parent
    for path in sorted(path for package in CODE_PACKAGES for path in (root / package).rglob("*.py")):
        try:
            hasher.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
        except OSError:
            continue
    return hasher.digest()


def _what_records_depend_on(settings: Settings) -> bytes:
    """The settings, less those that only say how and when a sync runs (so changing the interval, a
    timeout or the pace does not make the next full read convert every row); any other setting may."""
    halo = msgspec.structs.replace(
        settings.halo,
        proxy="",
        ca_bundle="",
        page_size=0,
        batch_size=0,
        timeout_seconds=0.0,
        requests_per_5_minutes=0,
    )
    sync = msgspec.structs.replace(settings.sync, interval_minutes=0, lookback_minutes=0)
    return msgspec.msgpack.encode((halo, settings.source, sync, settings.posting))


def stream_salt(settings: Settings, context: object, entity: str, changes: int) -> bytes:
    """The salt of a stream's row digests: everything besides the rows that conversion and planning read."""
    chosen = _what_records_depend_on(settings)
    parts = repr((payloads.PAYLOAD_VERSION, entity, changes, context)).encode()
    return hashlib.blake2b(code_digest() + chosen + parts, digest_size=32).digest()


class StreamRows:
    """One stream's known rows: the ``KnownRows`` its connector asks, and the engine's side of each."""

    def __init__(self, state: StateStore, entity: str, salt: bytes, changes: int) -> None:
        self._state = state
        self._changes = changes
        self._kept: dict[str, KeptRows] = {}
        self._opened: dict[str, InStep] = {}  # the page's records waiting to keep a digest, by key
        self.void = False  # a change counted since the salt was taken: no row is skipped any more
        self.known = KnownRows(entity, salt, self._lookup)

    def _lookup(self, keys: Sequence[str]) -> dict[str, str]:
        if self.void or self._state.changes() != self._changes:
            self.void = True
            return {}
        found: dict[str, str] = {}
        for key, stored in self._state.kept_rows(self.known.entity, keys).items():
            kept = kept_rows(stored)
            if kept is not None:
                self._kept[key] = kept
                found[key] = kept.digest
        return found

    def take(self, key: str) -> KeptRows | None:
        """What the link of ``key``'s row keeps (looked up for this page), forgotten here."""
        return self._kept.pop(key, None)

    def noted(self, key: str) -> str:
        """The digest of ``key``'s row, converted this read ("" when the connector noted none)."""
        return self.known.take(key)

    def in_step(self, entity: str, key: str, stored: str, modified: datetime | None) -> InStep | None:
        """What keeps ``key``'s rows' digest once it is in step (None when its row gave none). ``stored``
        is its link's hash as planning read it (``forget`` strips an old digest of it if need be)."""
        if entity != self.known.entity:
            return None
        row_digest = self.noted(key)
        if not row_digest:
            return None
        in_step = InStep(entity, key, stored, row_digest, modified)
        self._opened[key] = in_step
        return in_step

    def forget(self, key: str) -> tuple[KeptRows, InStep | None] | None:
        """After ``key``'s row was converted and planned: the digest its link kept before, if it still
        has to be dropped (no new one was kept in its place), and what waits to keep the new one."""
        self.noted(key)  # a digest planning did not take is not held
        in_step = self._opened.pop(key, None)
        old = self._kept.pop(key, None)
        if old is None or (in_step is not None and in_step.kept):
            return None
        return old, in_step

    def clear(self) -> None:
        self._kept.clear()
        self._opened.clear()
        self.known.noted.clear()
