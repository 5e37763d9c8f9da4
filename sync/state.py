"""The state store: what the engine already knows, kept in one SQLite file (WAL).

Why: the engine must never create a record twice and must resume where it stopped. Links (source key ->
Halo id + hash of what was sent), per-stream cursors, the user's mappings, runs and open problems live here.
Every write commits at once so a crash at any instant loses at most the write in flight, never a confirmed
one. Links carry a direction so the coming Halo -> books flow is an addition, not a rewrite.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from core.errors import ConfigError, LedgerBridgeError, TransientError
from sync.events import RunSummary
from sync.paths import ensure_private_dir, make_private, storage_error

TO_HALO = "to_halo"
TO_BOOKS = "to_books"
MAPPING_KINDS = ("customer", "tax")

# Problems of these entities are re-read through another entity's stream (and cursor).
CURSOR_OWNER = {"payments": "invoices", "sites": "customers"}


class Link(NamedTuple):
    """One record's link. A named tuple (as LinkWrite): immutable, without an instance dict (a run holds
    thousands), and made in a third of a frozen dataclass's time, whose ``__init__`` sets each field through
    ``object.__setattr__`` (a full re-read makes one for every link it reads, tens of thousands)."""

    entity: str
    source_key: str
    halo_id: int
    content_hash: str
    synced_at: datetime
    direction: str = TO_HALO


class LinkWrite(NamedTuple):
    """A confirmed write to record as a link (``StateStore.save_links``)."""

    entity: str
    source_key: str
    halo_id: int
    content_hash: str
    name: str | None = None
    source_modified: datetime | None = None


# Keys per IN (...) query: well under SQLite's oldest limit of 999 parameters per statement.
LINKS_PER_QUERY = 500


@dataclass(frozen=True)
class Posting:
    """One Halo document on its way into the books: ``state`` intended -> written -> marked."""

    halo_id: int
    reference: str  # the marker the books keep (core.books: HALO-<id>, HALO-C<id>)
    state: str  # "intended" (about to be written), "written" (the books confirmed), "marked" (Halo too)
    books_key: str
    books_number: str
    updated: datetime
    message: str


@dataclass(frozen=True)
class Problem:
    entity: str
    key: str
    message: str
    action: str
    first_seen: datetime
    last_seen: datetime
    occurrences: int
    source_modified: datetime | None


@dataclass(frozen=True)
class RunRecord:
    id: int
    started: datetime
    finished: datetime | None
    status: str
    dry_run: bool
    entities: tuple[str, ...]
    counts: dict[str, dict[str, int]]
    error: str

    def total(self, outcome: str) -> int:
        return sum(per.get(outcome, 0) for per in self.counts.values())

    @property
    def duration(self) -> timedelta | None:
        """How long the run took; None while it is going (or when it never finished: a crash)."""
        return None if self.finished is None else max(timedelta(0), self.finished - self.started)


@dataclass(frozen=True)
class SkippedRecord:
    """A record a sync read but deliberately did not send (inactive in the books, nothing Halo can hold)."""

    entity: str
    key: str
    reason: str
    last_seen: datetime


@dataclass(frozen=True)
class RecordOverview:
    """One record as the Records view lists it: its link to Halo (if any) and its open problem (if any)."""

    entity: str
    key: str
    name: str
    halo_id: int | None
    synced_at: datetime | None
    problem: str  # "" when the record synced

    @property
    def result(self) -> str:
        if self.problem:
            return "Problem"
        return "Synced"


def record_name(payload: Mapping[str, Any]) -> str | None:
    """What a person calls a record sent to Halo: its name, an invoice number, a payment's amount and day."""
    if payload.get("thirdpartyinvoicenumber"):
        return str(payload["thirdpartyinvoicenumber"])
    if "amount" in payload and "date" in payload:
        return f"{payload['amount']} on {str(payload['date'])[:10]}"
    name = payload.get("name")
    return str(name) if name else None


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run statements one by one (executescript would commit and break the migration's transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _migrate_1(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE links (
            entity TEXT NOT NULL,
            direction TEXT NOT NULL,
            source_key TEXT NOT NULL,
            halo_id INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (entity, direction, source_key)
        );
        CREATE TABLE cursors (entity TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE mappings (
            kind TEXT NOT NULL,
            source_key TEXT NOT NULL,
            halo_id INTEGER NOT NULL,
            PRIMARY KEY (kind, source_key)
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started TEXT NOT NULL,
            finished TEXT,
            status TEXT NOT NULL,
            dry_run INTEGER NOT NULL,
            entities TEXT NOT NULL,
            counts TEXT NOT NULL DEFAULT '{}',
            error TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE problems (
            entity TEXT NOT NULL,
            key TEXT NOT NULL,
            message TEXT NOT NULL,
            action TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            occurrences INTEGER NOT NULL,
            source_modified TEXT,
            PRIMARY KEY (entity, key)
        );
        """,
    )


def _migrate_2(db: sqlite3.Connection) -> None:
    """Links keep the record's name and its modified time in the books (the Records view, "Sync this record
    again"); skipped records are kept with their reason until they sync (Problems > Skipped)."""
    _run_script(
        db,
        """
        ALTER TABLE links ADD COLUMN name TEXT;
        ALTER TABLE links ADD COLUMN source_modified TEXT;
        CREATE TABLE skipped (
            entity TEXT NOT NULL,
            key TEXT NOT NULL,
            reason TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            source_modified TEXT,
            PRIMARY KEY (entity, key)
        );
        """,
    )


def _migrate_3(db: sqlite3.Connection) -> None:
    """Halo -> books: one row per Halo document on its way into the books (sync/posting.py's exactly-once
    state machine: intended -> written -> marked)."""
    _run_script(
        db,
        """
        CREATE TABLE postings (
            halo_id INTEGER PRIMARY KEY,
            reference TEXT NOT NULL,
            state TEXT NOT NULL,
            books_key TEXT NOT NULL DEFAULT '',
            books_number TEXT NOT NULL DEFAULT '',
            updated TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT ''
        );
        """,
    )


def match_key(source_key: str) -> str:
    """A books key as Halo matches it: trimmed and case-insensitive (sync.matching.normalise_key's rule)."""
    return source_key.strip().casefold()


def _migrate_4(db: sqlite3.Connection) -> None:
    """Links can be found by their Halo id and by their key as matched, so the engine and the guard ask
    the state store what this run linked or created instead of holding run-long sets (memory stays flat)."""
    _run_script(db, "ALTER TABLE links ADD COLUMN match_key TEXT;")
    rows = db.execute("SELECT rowid, source_key FROM links").fetchall()
    db.executemany("UPDATE links SET match_key=? WHERE rowid=?", [(match_key(k), r) for r, k in rows])
    _run_script(
        db,
        """
        CREATE INDEX links_by_halo_id ON links (entity, direction, halo_id);
        CREATE INDEX links_by_match_key ON links (entity, direction, match_key);
        """,
    )


# Entities whose records ride with another's (sync/entities), with the entity of the record they ride
# with when it has the same key (a main site and its customer); None when the state cannot tell it (a
# payment's invoice). The rider's digest is kept in that record's link.
RIDING_ENTITIES: dict[str, str | None] = {"payments": None, "sites": "customers"}


def _migrate_5(db: sqlite3.Connection) -> None:
    """A count of the changes that can make a record kept as unchanged need sending again although its rows
    did not change: a link pointed at another Halo record, a link dropped, a rider's link's hash cleared
    ("Sync this record again" on a payment, or on a site alone), a mapping set or removed. Triggers keep
    it, so no write path can forget to; the digests of unchanged rows (sync/known_rows.py) are salted with
    it and so are all void after any."""
    bump = "BEGIN UPDATE changes SET count = count + 1; END"
    # A cleared hash voids every digest only for a record that rides with another, while the record it
    # rides with may still keep a digest (a site cleared with its customer, as "Sync this record again"
    # does, is not counted). Any other record's digest is in its own link's hash, cleared with it, and no
    # other record's payload takes its hash, only its Halo id (re-pointed or dropped: counted below).
    cleared = "AFTER UPDATE OF content_hash ON links WHEN new.content_hash = '' AND old.content_hash != ''"
    riders = []
    for number, (entity, parent) in enumerate(RIDING_ENTITIES.items()):
        condition = f"new.entity = '{entity}'"
        if parent is not None:
            condition += (
                f" AND EXISTS (SELECT 1 FROM links AS parent WHERE parent.entity = '{parent}' AND "
                "parent.direction = new.direction AND parent.source_key = new.source_key AND "
                "parent.content_hash LIKE '%/%/%')"
            )
        riders.append(f"rider_hash_cleared_{number} {cleared} AND {condition} {bump}")
    db.execute("CREATE TABLE changes (count INTEGER NOT NULL)")
    db.execute("INSERT INTO changes (count) VALUES (0)")
    for trigger in (  # executed one by one: a trigger's body holds a ';' that _run_script would split at
        f"links_repointed AFTER UPDATE OF halo_id ON links WHEN old.halo_id IS NOT new.halo_id {bump}",
        *riders,
        f"links_dropped AFTER DELETE ON links {bump}",
        f"mappings_added AFTER INSERT ON mappings {bump}",
        f"mappings_changed AFTER UPDATE ON mappings {bump}",
        f"mappings_dropped AFTER DELETE ON mappings {bump}",
    ):
        db.execute(f"CREATE TRIGGER {trigger}")


# Each entry moves the schema from version i to i+1; append only, never edit a shipped migration.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _migrate_1,
    _migrate_2,
    _migrate_3,
    _migrate_4,
    _migrate_5,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _now() -> datetime:
    return datetime.now(UTC)


BUSY_TIMEOUT = 30.0  # seconds a connection waits for another's lock, the WAL switch included


def _wal_mode(db: sqlite3.Connection) -> None:
    """Switch to WAL, waiting while another process opening the same new file holds it.

    Why not the busy timeout alone: switching a new file to WAL means promoting a shared lock, and two
    connections promoting at once could deadlock, so SQLite answers SQLITE_BUSY at once instead of calling
    the busy handler (sqlite.org/c3ref/busy_handler.html). The app and a scheduled sync starting together
    on a fresh install met that; they now take turns.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(0.02)


def _text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored: give a timezone")
    return value.isoformat()


def _date(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class StateStore:
    """Links, cursors, mappings, runs and problems. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._last_stamp = _now()  # links are stamped monotonically: see ``stamp``
        if self.path != ":memory:":
            file = Path(self.path)
            ensure_private_dir(file.parent)
            _create_private(file)
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT
            )
        except sqlite3.Error as exc:
            raise state_error(exc, self.path) from exc
        try:
            _wal_mode(self._db)
            # NORMAL in WAL mode: a commit survives a crash of this program; only an OS crash/power cut can
            # lose the last commits, and the accountsid lookup before every create covers that.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            raise state_error(exc, self.path) from exc

    # --- schema -----------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"The sync state file {self.path} was written by a newer LedgerBridge "
                    f"(schema {version}, this version knows {SCHEMA_VERSION}).",
                    action="Install the newer LedgerBridge again.",
                )
            for number in range(version, SCHEMA_VERSION):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    # Another process (the app and a scheduled `sync` opening a new file together) may have
                    # migrated while we waited for the write lock: read the version again under it.
                    if self._db.execute("PRAGMA user_version").fetchone()[0] > number:
                        self._db.execute("COMMIT")
                        continue
                    MIGRATIONS[number](self._db)
                    self._db.execute(f"PRAGMA user_version = {number + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):  # a full disk may have ended it already
                        self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        row = self._fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, committed before this returns: all of it is kept, or (a failure, a
        crash) none of it; a database error becomes the state error that says what to do."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                    self._db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):  # a full disk may have ended it already
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise state_error(exc, self.path) from exc

    def _execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._db.execute(sql, params)
            except sqlite3.Error as exc:
                raise state_error(exc, self.path) from exc

    def _fetchone(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            try:
                row: tuple[Any, ...] | None = self._db.execute(sql, params).fetchone()
                return row
            except sqlite3.Error as exc:
                raise state_error(exc, self.path) from exc

    def _fetchall(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise state_error(exc, self.path) from exc

    # --- links ------------------------------------------------------------------------------------------

    def link(self, entity: str, source_key: str, direction: str = TO_HALO) -> Link | None:
        row = self._fetchone(
            "SELECT halo_id, content_hash, synced_at FROM links "
            "WHERE entity=? AND direction=? AND source_key=?",
            (entity, direction, source_key),
        )
        if row is None:
            return None
        return Link(entity, source_key, int(row[0]), row[1], datetime.fromisoformat(row[2]), direction)

    def links(self, entity: str, direction: str = TO_HALO) -> dict[str, Link]:
        rows = self._fetchall(
            "SELECT source_key, halo_id, content_hash, synced_at FROM links WHERE entity=? AND direction=?",
            (entity, direction),
        )
        return {
            key: Link(entity, key, int(halo_id), content_hash, datetime.fromisoformat(synced), direction)
            for key, halo_id, content_hash, synced in rows
        }

    def links_for(self, entity: str, keys: Collection[str], direction: str = TO_HALO) -> dict[str, Link]:
        """The links of ``keys`` that have one: one query per LINKS_PER_QUERY keys, not one per key.

        Why: the engine plans a page of records at a time and reads their links together; a round trip per
        record was a tenth of a no-change sync.
        """
        found: dict[str, Link] = {}
        sql = (
            "SELECT source_key, halo_id, content_hash, synced_at FROM links WHERE entity=? AND "
            "direction=? AND source_key IN (<keys>)"
        )
        for key, halo_id, content_hash, synced in self._for_keys(sql, (entity, direction), keys):
            found[key] = Link(
                entity, key, int(halo_id), content_hash, datetime.fromisoformat(synced), direction
            )
        return found

    def _for_keys(
        self, sql: str, params: Sequence[Any], keys: Collection[str], after: Sequence[Any] = ()
    ) -> list[Any]:
        """The rows of ``sql`` (holding ``IN (<keys>)`` once) for ``keys``, LINKS_PER_QUERY at a time."""
        wanted = list(dict.fromkeys(keys))
        rows: list[Any] = []
        for start in range(0, len(wanted), LINKS_PER_QUERY):
            chunk = wanted[start : start + LINKS_PER_QUERY]
            rows += self._fetchall(
                sql.replace("<keys>", ",".join("?" * len(chunk))), (*params, *chunk, *after)
            )
        return rows

    def changes(self) -> int:
        """How many changes that void the digests of unchanged rows this store has seen (``_migrate_5``)."""
        row = self._fetchone("SELECT count FROM changes")
        return int(row[0]) if row is not None else 0

    def kept_rows(self, entity: str, keys: Collection[str]) -> dict[str, str]:
        """key -> stored hash, for those of ``keys`` whose link (to Halo) keeps its rows' digest (a stored
        hash of three parts, ``sync.known_rows``). A books invoice posted from Halo has none: it is never
        sent from the books, so its rows are always read."""
        sql = (
            "SELECT source_key, content_hash FROM links WHERE entity=? AND direction=? AND "
            "source_key IN (<keys>) AND content_hash LIKE '%/%/%' AND NOT EXISTS "
            "(SELECT 1 FROM links AS posted WHERE posted.entity=links.entity AND posted.direction=? "
            "AND posted.source_key=links.source_key)"
        )
        return dict(self._for_keys(sql, (entity, TO_HALO), keys, (TO_BOOKS,)))

    def save_link(
        self,
        entity: str,
        source_key: str,
        halo_id: int,
        content_hash: str,
        direction: str = TO_HALO,
        *,
        name: str | None = None,
        source_modified: datetime | None = None,
    ) -> None:
        """Record a confirmed write; committed at once so a crash right after keeps it.

        ``name`` and ``source_modified`` are for people (the Records view) and for "Sync this record again";
        a write that does not know them keeps the ones stored before.
        """
        self.save_links(
            [LinkWrite(entity, source_key, halo_id, content_hash, name, source_modified)], direction
        )

    def save_links(self, links: Sequence[LinkWrite], direction: str = TO_HALO) -> None:
        """Record a batch of confirmed writes in one transaction, committed before this returns.

        Why one transaction: a commit per record was one WAL append and lock round trip each; a batch
        Halo confirmed in one answer is kept whole, or (a crash before the commit) not at all, and then
        the next run finds those records in Halo by their key before creating anything.
        """
        if not links:
            return
        now = _text(self.stamp())
        rows = [
            (
                link.entity,
                direction,
                link.source_key,
                int(link.halo_id),
                link.content_hash,
                now,
                link.name,
                _text(link.source_modified),
                match_key(link.source_key),
            )
            for link in links
        ]
        with self._transaction():
            self._db.executemany(
                "INSERT INTO links (entity, direction, source_key, halo_id, content_hash, synced_at, "
                "name, source_modified, match_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (entity, direction, source_key) DO UPDATE SET "
                "halo_id=excluded.halo_id, content_hash=excluded.content_hash, "
                "synced_at=excluded.synced_at, name=COALESCE(excluded.name, links.name), "
                "source_modified=COALESCE(excluded.source_modified, links.source_modified)",
                rows,
            )

    def stamp(self) -> datetime:
        """Now, never earlier than a stamp this store gave before: a link saved after ``stamp()`` returned
        carries a ``synced_at`` at or after it, even if the PC's clock is set back meanwhile."""
        with self._lock:
            self._last_stamp = max(self._last_stamp + timedelta(microseconds=1), _now())
            return self._last_stamp

    def linked_since(self, entity: str, halo_id: int, since: datetime, direction: str = TO_HALO) -> bool:
        """Whether a link of ``entity`` to Halo record ``halo_id`` was saved at or after ``since``.

        Why: "a Halo record linked in this run is not matched again" is answered here, from the links saved
        per confirmed batch, rather than from a set that grows with every record of a first sync.
        """
        rows = self._fetchall(
            "SELECT synced_at FROM links WHERE entity=? AND direction=? AND halo_id=?",
            (entity, direction, int(halo_id)),
        )
        return any(datetime.fromisoformat(row[0]) >= since for row in rows)

    def is_linked_id(self, entity: str, halo_id: int, direction: str = TO_HALO) -> bool:
        """Whether some record of ``entity`` is linked to Halo record ``halo_id`` (it is ours)."""
        row = self._fetchone(
            "SELECT 1 FROM links WHERE entity=? AND direction=? AND halo_id=? LIMIT 1",
            (entity, direction, int(halo_id)),
        )
        return row is not None

    def key_linked_above(self, entity: str, key: str, above: int, direction: str = TO_HALO) -> bool:
        """Whether ``key`` (as matched: trimmed, any case) is linked to a Halo id above ``above``.

        Why: Halo numbers records as it creates them, so a link to an id above the highest one read at the
        start of a run is a record this run created (or adopted as its own create): the second-installation
        guard's "keys we created" without holding them all.
        """
        row = self._fetchone(
            "SELECT 1 FROM links WHERE entity=? AND direction=? AND match_key=? AND halo_id>? LIMIT 1",
            (entity, direction, match_key(key), int(above)),
        )
        return row is not None

    def add_fingerprints(self, hashes: Sequence[tuple[str, str, str, str]], direction: str = TO_HALO) -> None:
        """Store (entity, source key, hash as read, hash with its inputs' fingerprint) for unchanged records.

        Only a link still holding the hash as read is changed: one that "Sync this record again" cleared, or
        another write changed, meanwhile keeps what it has. Nothing else of the link moves (its
        ``synced_at`` says when Halo last got the record, and nothing was sent).
        """
        if not hashes:
            return
        rows = [(new, entity, direction, key, old) for entity, key, old, new in hashes]
        with self._transaction():
            self._db.executemany(
                "UPDATE links SET content_hash=? WHERE entity=? AND direction=? AND source_key=? "
                "AND content_hash=?",
                rows,
            )

    def drop_link(self, entity: str, source_key: str, direction: str = TO_HALO) -> None:
        self._execute(
            "DELETE FROM links WHERE entity=? AND direction=? AND source_key=?",
            (entity, direction, source_key),
        )

    # --- cursors ----------------------------------------------------------------------------------------

    def cursor(self, entity: str) -> datetime | None:
        row = self._fetchone("SELECT value FROM cursors WHERE entity=?", (entity,))
        return None if row is None else _date(row[0])

    def save_cursor(self, entity: str, value: datetime | None) -> None:
        if value is None:
            self._execute("DELETE FROM cursors WHERE entity=?", (entity,))
            return
        self._execute(
            "INSERT INTO cursors (entity, value) VALUES (?, ?) "
            "ON CONFLICT (entity) DO UPDATE SET value=excluded.value",
            (entity, _text(value)),
        )

    # --- mappings (the user's choices) ------------------------------------------------------------------

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in MAPPING_KINDS:
            raise ValueError(f"unknown mapping kind {kind!r}; use one of {MAPPING_KINDS}")

    def mapping(self, kind: str, source_key: str) -> int | None:
        self._check_kind(kind)
        row = self._fetchone("SELECT halo_id FROM mappings WHERE kind=? AND source_key=?", (kind, source_key))
        return None if row is None else int(row[0])

    def mappings(self, kind: str) -> dict[str, int]:
        self._check_kind(kind)
        rows = self._fetchall("SELECT source_key, halo_id FROM mappings WHERE kind=?", (kind,))
        return {key: int(halo_id) for key, halo_id in rows}

    def set_mapping(self, kind: str, source_key: str, halo_id: int | None) -> None:
        self._check_kind(kind)
        if halo_id is None:
            self._execute("DELETE FROM mappings WHERE kind=? AND source_key=?", (kind, source_key))
            return
        self._execute(
            "INSERT INTO mappings (kind, source_key, halo_id) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, source_key) DO UPDATE SET halo_id=excluded.halo_id",
            (kind, source_key, int(halo_id)),
        )

    # --- runs -------------------------------------------------------------------------------------------

    def start_run(self, *, dry_run: bool, entities: Sequence[str]) -> int:
        cursor = self._execute(
            "INSERT INTO runs (started, status, dry_run, entities) VALUES (?, 'running', ?, ?)",
            (_text(_now()), int(dry_run), json.dumps(list(entities))),
        )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, summary: RunSummary) -> None:
        self._execute(
            "UPDATE runs SET finished=?, status=?, counts=?, error=? WHERE id=?",
            (
                _text(summary.finished or _now()),
                summary.status,
                json.dumps(summary.counts, sort_keys=True),
                summary.error,
                run_id,
            ),
        )

    def latest_run_id(self) -> int:
        """The newest run's id (0 before any): a cheap "has anything run since I last looked?"."""
        row = self._execute("SELECT MAX(id) FROM runs").fetchone()
        return int(row[0] or 0)

    def runs(self, limit: int = 100) -> list[RunRecord]:
        rows = self._fetchall(
            "SELECT id, started, finished, status, dry_run, entities, counts, error FROM runs "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            RunRecord(
                id=int(row[0]),
                started=datetime.fromisoformat(row[1]),
                finished=_date(row[2]),
                status=row[3],
                dry_run=bool(row[4]),
                entities=tuple(json.loads(row[5])),
                counts=json.loads(row[6]),
                error=row[7],
            )
            for row in rows
        ]

    # --- problems ---------------------------------------------------------------------------------------

    def record_problem(
        self, entity: str, key: str, message: str, action: str, source_modified: datetime | None = None
    ) -> None:
        """Open a problem, or refresh it (message, last seen, count) when the record failed again."""
        now = _text(_now())
        self._execute(
            "INSERT INTO problems (entity, key, message, action, first_seen, last_seen, occurrences, "
            "source_modified) VALUES (?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (entity, key) DO UPDATE SET "
            "message=excluded.message, action=excluded.action, last_seen=excluded.last_seen, "
            "occurrences=problems.occurrences + 1, "
            "source_modified=COALESCE(excluded.source_modified, problems.source_modified)",
            (entity, key, message, action, now, now, _text(source_modified)),
        )

    def clear_problem(self, entity: str, key: str) -> None:
        self._execute("DELETE FROM problems WHERE entity=? AND key=?", (entity, key))

    def problems(self, entity: str | None = None) -> list[Problem]:
        sql = (
            "SELECT entity, key, message, action, first_seen, last_seen, occurrences, source_modified "
            "FROM problems"
        )
        params: tuple[object, ...] = ()
        if entity is not None:
            sql += " WHERE entity=?"
            params = (entity,)
        rows = self._fetchall(sql + " ORDER BY entity, key", params)
        return [
            Problem(
                entity=row[0],
                key=row[1],
                message=row[2],
                action=row[3],
                first_seen=datetime.fromisoformat(row[4]),
                last_seen=datetime.fromisoformat(row[5]),
                occurrences=int(row[6]),
                source_modified=_date(row[7]),
            )
            for row in rows
        ]

    def rewind_for_problems(self, entities: Sequence[str] | None = None) -> None:
        """'Retry these': make the next run read the problem records again.

        Each stream's cursor moves back to just before its oldest problem's source date; a problem without a
        source date clears the cursor (a full read). Payments and sites are read through invoices/customers.
        """
        wanted = None if entities is None else set(entities)
        oldest: dict[str, datetime | None] = {}
        for problem in self.problems():
            if wanted is not None and problem.entity not in wanted:
                continue
            stream = CURSOR_OWNER.get(problem.entity, problem.entity)
            modified = problem.source_modified
            if stream in oldest:
                current = oldest[stream]
                oldest[stream] = None if current is None or modified is None else min(current, modified)
            else:
                oldest[stream] = modified
        with self._lock:
            for stream, modified in oldest.items():
                if modified is None:
                    self.save_cursor(stream, None)
                    continue
                before = modified - timedelta(seconds=1)
                cursor = self.cursor(stream)
                if cursor is not None and cursor > before:
                    self.save_cursor(stream, before)

    # --- skipped records -------------------------------------------------------------------------------

    def record_skip(
        self, entity: str, key: str, reason: str, source_modified: datetime | None = None
    ) -> None:
        """A sync read this record and did not send it, on purpose: kept (with why) until it syncs."""
        now = _text(_now())
        self._execute(
            "INSERT INTO skipped (entity, key, reason, last_seen, source_modified) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (entity, key) DO UPDATE SET reason=excluded.reason, last_seen=excluded.last_seen, "
            "source_modified=COALESCE(excluded.source_modified, skipped.source_modified)",
            (entity, key, reason, now, _text(source_modified)),
        )

    def clear_skip(self, entity: str, key: str) -> None:
        self._execute("DELETE FROM skipped WHERE entity=? AND key=?", (entity, key))

    def skipped(self) -> list[SkippedRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT entity, key, reason, last_seen FROM skipped ORDER BY entity, key"
            ).fetchall()
        return [SkippedRecord(row[0], row[1], row[2], datetime.fromisoformat(row[3])) for row in rows]

    # --- the Records view ---------------------------------------------------------------------------------

    def record_overviews(self, direction: str = TO_HALO) -> list[RecordOverview]:
        """Every linked record (with its name, Halo id, when it last synced) and every record with an open
        problem that never synced. A site is named after its customer (Halo calls each main site "Main")."""
        with self._lock:
            linked = self._db.execute(
                "SELECT l.entity, l.source_key, COALESCE(c.name, l.name, ''), l.halo_id, l.synced_at, "
                "COALESCE(p.message, '') FROM links l "
                "LEFT JOIN links c ON l.entity='sites' AND c.entity='customers' "
                "AND c.direction=l.direction AND c.source_key=l.source_key "
                "LEFT JOIN problems p ON p.entity=l.entity AND p.key=l.source_key "
                "WHERE l.direction=? ORDER BY l.entity, l.source_key",
                (direction,),
            ).fetchall()
            unlinked = self._db.execute(
                "SELECT p.entity, p.key, p.message FROM problems p WHERE NOT EXISTS ("
                "SELECT 1 FROM links l WHERE l.entity=p.entity AND l.source_key=p.key AND l.direction=?) "
                "ORDER BY p.entity, p.key",
                (direction,),
            ).fetchall()
        overviews = [
            RecordOverview(row[0], row[1], row[2], int(row[3]), datetime.fromisoformat(row[4]), row[5])
            for row in linked
        ]
        overviews += [RecordOverview(row[0], row[1], "", None, None, row[2]) for row in unlinked]
        return overviews

    def resync_record(self, entity: str, key: str, direction: str = TO_HALO) -> str:
        """ "Sync this record again": the next run reads it again and sends it even if unchanged.

        Its link's hash is forgotten (so the record counts as changed; a customer's main site too) and the
        stream's cursor moves back to just before the record's modified time in the books (a full read of
        that stream when that time is unknown). Returns the stream to run.
        """
        stream = CURSOR_OWNER.get(entity, entity)
        with self._lock:
            row = self._db.execute(
                "SELECT source_modified FROM links WHERE entity=? AND direction=? AND source_key=?",
                (entity, direction, key),
            ).fetchone()
            modified_text = row[0] if row is not None else None
            for table in ("problems", "skipped"):
                if modified_text is None:
                    found = self._db.execute(
                        f"SELECT source_modified FROM {table} WHERE entity=? AND key=?", (entity, key)
                    ).fetchone()
                    modified_text = found[0] if found is not None else None
            related = (entity, "sites") if entity == "customers" else (entity,)
            for linked_entity in related:
                self._db.execute(
                    "UPDATE links SET content_hash='' WHERE entity=? AND direction=? AND source_key=?",
                    (linked_entity, direction, key),
                )
            modified = _date(modified_text)
            if modified is None:
                self.save_cursor(stream, None)
            else:
                before = modified - timedelta(seconds=1)
                cursor = self.cursor(stream)
                if cursor is not None and cursor > before:
                    self.save_cursor(stream, before)
        return stream

    # --- postings (Halo -> books, sync/posting.py) ---------------------------------------------------------

    def posting(self, halo_id: int) -> Posting | None:
        rows = self._postings("WHERE halo_id=?", (int(halo_id),))
        return rows[0] if rows else None

    def postings(self, *states: str) -> list[Posting]:
        """Every posting row (in the given states only, when any are given), oldest Halo id first."""
        if not states:
            return self._postings("", ())
        marks = ", ".join("?" for _ in states)
        return self._postings(f"WHERE state IN ({marks})", states)

    def _postings(self, where: str, params: Sequence[object]) -> list[Posting]:
        rows = self._fetchall(
            "SELECT halo_id, reference, state, books_key, books_number, updated, message FROM postings "
            f"{where} ORDER BY halo_id",
            params,
        )
        return [Posting(int(r[0]), r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]), r[6]) for r in rows]

    def posting_intended(self, halo_id: int, reference: str) -> None:
        """Say, before the books are written, that this document is about to be: committed at once, so a
        run that dies mid-write leaves a row telling the next run to look in the books first."""
        self._execute(
            "INSERT INTO postings (halo_id, reference, state, updated) VALUES (?, ?, 'intended', ?) "
            "ON CONFLICT (halo_id) DO UPDATE SET reference=excluded.reference, updated=excluded.updated "
            "WHERE postings.state='intended'",
            (int(halo_id), reference, _text(_now())),
        )

    def posting_written(
        self, halo_id: int, reference: str, books_key: str, books_number: str, *, name: str = ""
    ) -> None:
        """The books confirmed the document: its row and its to_books link in ONE transaction, so the
        books -> Halo run can never meet the new books invoice without knowing it started in Halo."""
        now = _text(_now())
        with self._transaction():
            self._db.execute(
                "INSERT INTO postings (halo_id, reference, state, books_key, books_number, updated) "
                "VALUES (?, ?, 'written', ?, ?, ?) ON CONFLICT (halo_id) DO UPDATE SET "
                "state=CASE WHEN postings.state='marked' THEN 'marked' ELSE 'written' END, "
                "books_key=excluded.books_key, books_number=excluded.books_number, "
                "updated=excluded.updated, message=''",
                (int(halo_id), reference, books_key, books_number, now),
            )
            self._db.execute(
                "INSERT INTO links (entity, direction, source_key, halo_id, content_hash, synced_at, "
                "name, match_key) VALUES ('invoices', ?, ?, ?, '', ?, ?, ?) "
                "ON CONFLICT (entity, direction, source_key) DO UPDATE SET halo_id=excluded.halo_id, "
                "synced_at=excluded.synced_at, name=COALESCE(excluded.name, links.name)",
                (
                    TO_BOOKS,
                    books_key,
                    int(halo_id),
                    now,
                    name or books_number or None,
                    match_key(books_key),
                ),
            )

    def posting_marked(self, halo_id: int) -> None:
        """Halo now shows the document as posted (posted, dateposted, thirdpartyinvoicenumber)."""
        self._execute(
            "UPDATE postings SET state='marked', updated=?, message='' WHERE halo_id=? AND state<>'intended'",
            (_text(_now()), int(halo_id)),
        )

    def posting_note(self, halo_id: int, message: str) -> None:
        """Why the last step of this posting did not finish (shown to people; the state is unchanged)."""
        self._execute("UPDATE postings SET message=? WHERE halo_id=?", (message, int(halo_id)))

    def drop_posting(self, halo_id: int) -> None:
        """Forget an intent the books provably refused (a RecordError): nothing of it is in the books."""
        self._execute("DELETE FROM postings WHERE halo_id=? AND state='intended'", (int(halo_id),))

    def halo_ids(self, entity: str, direction: str = TO_HALO) -> set[int]:
        """The Halo ids linked for ``entity`` in ``direction`` (what came from the books, for posting)."""
        rows = self._fetchall("SELECT halo_id FROM links WHERE entity=? AND direction=?", (entity, direction))
        return {int(row[0]) for row in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


DAMAGED_ACTION = (
    "Rename it (for example to state-damaged.sqlite3) and LedgerBridge relinks everything by key on the next "
    "run: Halo records are matched by their accounts ID, nothing is created twice; choices made on the "
    "Mappings page must be made again."
)


def state_error(exc: sqlite3.Error, path: str) -> LedgerBridgeError:
    """What went wrong with the state store, in words that say what to do (never a raw sqlite3 error)."""
    text = str(exc).lower()
    folder = Path(path).parent
    if "full" in text:
        return ConfigError(
            f"The disk holding {folder} is full: LedgerBridge could not save what it synced.",
            action="Free some space on that disk, then sync again; everything Halo confirmed so far is kept.",
            detail=repr(exc),
        )
    if "locked" in text or "busy" in text:
        return TransientError(
            f"Another program is holding LedgerBridge's state file {path}.",
            action="Close other copies of LedgerBridge (or a tool that opened the file), then try again.",
            detail=repr(exc),
        )
    if "readonly" in text or "read-only" in text or not _writable(Path(path)):
        return ConfigError(
            f"LedgerBridge may not write to {folder} (the folder or its state file is read-only).",
            action="Give this user write access to that folder (or point LEDGERBRIDGE_HOME at a folder it "
            "can write), then try again.",
            detail=repr(exc),
        )
    if "disk i/o" in text:
        return ConfigError(
            f"The disk reported an error while LedgerBridge used its record of what it synced ({path}).",
            action="Check the disk and its free space, then try again. If it persists: " + DAMAGED_ACTION,
            detail=repr(exc),
        )
    if isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in text or "not a database" in text or "corrupt" in text
    ):
        return ConfigError(
            f"LedgerBridge's record of what it synced ({path}) is damaged ({exc}).",
            action=DAMAGED_ACTION,
            detail=repr(exc),
        )
    return ConfigError(
        f"LedgerBridge's record of what it synced ({path}) cannot be used ({exc}).",
        action=f"Close other copies of LedgerBridge and try again. If it persists: {DAMAGED_ACTION}",
        detail=repr(exc),
    )


def _writable(path: Path) -> bool:
    target = path if path.exists() else path.parent
    return os.access(target, os.W_OK) and os.access(path.parent, os.W_OK)


def _create_private(path: Path) -> None:
    """Create the state file 0600 before SQLite opens it (SQLite gives its -wal/-shm files the same mode)."""
    try:
        if not path.exists():
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600))
        make_private(path)
    except OSError as exc:
        raise storage_error(exc, path.parent, "its record of what it synced") from exc
