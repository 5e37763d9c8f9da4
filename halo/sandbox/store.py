"""The sandbox's records: in memory for speed, written through to SQLite when a file is given.

Halo's POST semantics live here: a batch is all-or-nothing, an ``id`` updates and its absence creates, a new
Client gets its main site, invoice lines are replaced wholesale, and server-kept fields (ids, timestamps)
are set by the server. Id lookups are dict lookups so 100,000 records stay fast; searches may scan.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from halo.resources import RESOURCES
from halo.sandbox.schemas import RecordProblem, shared_validator
from halo.sandbox.wire import decode_body, is_plain

# Halo's own "last changed" field per record type, kept by the server.
TIMESTAMP_FIELDS: dict[str, str] = {
    "Client": "alastupdate",
    "Site": "slastupdate",
    "Item": "lastmodified",
    "Invoice": "last_modified",
    "Supplier": "last_modified",
}

SEARCH_FIELDS: dict[str, tuple[str, ...]] = {
    "Client": ("name",),
    "Site": ("name",),
    "Item": ("name", "description", "internalreference"),
    "Tax": ("name", "code"),
    "Invoice": ("invoicenumber", "thirdpartyinvoicenumber"),
    "InvoicePayment": ("sage50_reference", "thirdpartyid"),
    "Supplier": ("name",),
}

LINE_COUNTER = "InvoiceDetail"
MAIN_SITE_NAME = "Main Site"
_QUERY_CACHE_SIZE = 16


@dataclass(frozen=True)
class ListQuery:
    """The filters of a GET list, already parsed from the query string."""

    search: str = ""
    include_inactive: bool = False
    client_id: int | None = None
    invoice_id: int | None = None
    toplevel_id: int | None = None
    include_lines: bool = False
    order: str = ""  # Halo's `order`: the field to sort on (default: id)
    descending: bool = False  # Halo's `orderdesc`
    hidden_clients: frozenset[int] = frozenset()  # ids the API agent cannot see (sandbox mode)
    # GET /Invoice only (Halo's OpenAPI): posted state, document types, invoice date range (YYYY-MM-DD).
    not_posted_only: bool = False
    posted_only: bool = False
    include_credits: bool = True  # a credit note is an invoice with a negative total (docs/architecture.md)
    include_invoices: bool = True
    invoice_date_start: str = ""
    invoice_date_end: str = ""

    def filter_key(self) -> tuple[Any, ...]:
        return (
            self.search.casefold(),
            self.include_inactive,
            self.client_id,
            self.invoice_id,
            self.toplevel_id,
            self.order.casefold(),
            self.descending,
            tuple(sorted(self.hidden_clients)),
            self.not_posted_only,
            self.posted_only,
            self.include_credits,
            self.include_invoices,
            self.invoice_date_start,
            self.invoice_date_end,
        )


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value).casefold())


def server_timestamp() -> str:
    """UTC now in the ISO form Halo answers with."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SandboxStore:
    """Thread-safe record store; one lock serialises writes and keeps readers consistent."""

    def __init__(self, db_path: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in RESOURCES}
        self._next_id: dict[str, int] = {name: 1 for name in (*RESOURCES, LINE_COUNTER)}
        self._versions: dict[str, int] = dict.fromkeys(RESOURCES, 0)
        self._unordered: set[str] = set()
        self._query_cache: OrderedDict[tuple[Any, ...], tuple[int, list[int]]] = OrderedDict()
        self._validators = {name: shared_validator(name) for name in RESOURCES}
        self._plain = True
        self._db: sqlite3.Connection | None = None
        if db_path is not None:
            self._open_db(Path(db_path))

    # ----------------------------------------------------------------- persistence

    def _open_db(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS records (resource TEXT NOT NULL, id INTEGER NOT NULL, "
                "body TEXT NOT NULL, PRIMARY KEY (resource, id)) WITHOUT ROWID"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, next_id INTEGER NOT NULL)"
            )
            for resource, record_id, body in self._db.execute(
                "SELECT resource, id, body FROM records ORDER BY resource, id"
            ):
                if resource in self._records:
                    self._records[resource][record_id], plain = decode_body(body)
                    self._plain = self._plain and plain
            for name, next_id in self._db.execute("SELECT name, next_id FROM counters"):
                if name in self._next_id:
                    self._next_id[name] = max(self._next_id[name], next_id)
        except sqlite3.DatabaseError as error:
            if self._db is not None:
                self._db.close()
                self._db = None
            raise RuntimeError(
                f"The sandbox cannot use its data file {db_path}: {error}. "
                "Delete the file to start with an empty sandbox, or pass another --db path."
            ) from error

    def _persist(self, writes: list[tuple[str, int, dict[str, Any]]], counters: dict[str, int]) -> None:
        if self._db is None:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO records (resource, id, body) VALUES (?, ?, ?)",
                [(resource, record_id, json.dumps(body)) for resource, record_id, body in writes],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO counters (name, next_id) VALUES (?, ?)", list(counters.items())
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ----------------------------------------------------------------- reads

    def get(self, resource: str, record_id: int, *, copy: bool = True) -> dict[str, Any] | None:
        with self._lock:
            record = self._records[resource].get(record_id)
            return None if record is None else self._present(resource, record, True, copy)

    @property
    def plain(self) -> bool:
        """Whether every record stored so far was plain JSON (wire.is_plain), so that answers made of
        them can be written by msgspec; once one was not (a NaN, a float overflowed to infinity), False
        for good: a sticky flag costs nothing per answer, where a check would cost what msgspec saves."""
        return self._plain

    def count(self, resource: str) -> int:
        with self._lock:
            return len(self._records[resource])

    def select(
        self, resource: str, query: ListQuery, offset: int = 0, limit: int | None = None, *, copy: bool = True
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, the records from ``offset``, at most ``limit``), in id order."""
        with self._lock:
            ids = self._matching_ids(resource, query)
            selected = ids[offset:] if limit is None else ids[offset : offset + limit]
            table = self._records[resource]
            include_lines = query.include_lines
            page = [self._present(resource, table[record_id], include_lines, copy) for record_id in selected]
            return len(ids), page

    def _matching_ids(self, resource: str, query: ListQuery) -> list[int]:
        key = (resource, *query.filter_key())
        version = self._versions[resource]
        cached = self._query_cache.get(key)
        if cached is not None and cached[0] == version:
            self._query_cache.move_to_end(key)
            return cached[1]
        table = self._records[resource]
        if resource in self._unordered:
            self._records[resource] = table = dict(sorted(table.items()))
            self._unordered.discard(resource)
        matches = self._filter(resource, query)
        ids = [record_id for record_id, record in table.items() if matches(record)]
        field = query.order.casefold()
        if field and field != "id":  # None and missing values sort first, like SQL Server's ascending order
            ids.sort(key=lambda record_id: _sort_key(table[record_id].get(query.order)))
        if query.descending:
            ids.reverse()
        self._query_cache[key] = (version, ids)
        if len(self._query_cache) > _QUERY_CACHE_SIZE:
            self._query_cache.popitem(last=False)
        return ids

    def _filter(self, resource: str, query: ListQuery) -> Callable[[dict[str, Any]], bool]:
        tests: list[Callable[[dict[str, Any]], bool]] = []
        if RESOURCES[resource].has_inactive and not query.include_inactive:
            tests.append(lambda record: not record.get("inactive"))
        if query.client_id is not None and resource in ("Site", "Invoice", "InvoicePayment"):
            wanted_client = query.client_id
            tests.append(lambda record: record.get("client_id") == wanted_client)
        if query.invoice_id is not None and resource == "InvoicePayment":
            wanted_invoice = query.invoice_id
            tests.append(lambda record: record.get("invoice_id") == wanted_invoice)
        if query.hidden_clients and resource == "Client":
            hidden = query.hidden_clients
            tests.append(lambda record: record.get("id") not in hidden)
        if query.toplevel_id is not None and resource == "Client":
            wanted_top = query.toplevel_id
            tests.append(lambda record: record.get("toplevel_id") == wanted_top)
        if resource == "Invoice":
            tests.extend(self._invoice_tests(query))
        if query.search:
            needle = query.search.casefold()
            fields = SEARCH_FIELDS[resource]
            clients = self._records["Client"]

            def found(record: dict[str, Any]) -> bool:
                texts = [record.get(field) for field in fields]
                if resource == "Invoice":
                    client = _by_id(clients, record.get("client_id"))
                    texts.append(client.get("name") if client is not None else None)
                return any(isinstance(text, str) and needle in text.casefold() for text in texts)

            tests.append(found)
        return lambda record: all(test(record) for test in tests)

    def _invoice_tests(self, query: ListQuery) -> list[Callable[[dict[str, Any]], bool]]:
        """GET /Invoice's own filters: notpostedonly, postedonly, includecredits, includeinvoices,
        invoicedatestart/end (on the invoice date's day) and toplevel_id (the client's top level)."""
        tests: list[Callable[[dict[str, Any]], bool]] = []
        if query.not_posted_only:
            tests.append(lambda record: not record.get("posted"))
        if query.posted_only:
            tests.append(lambda record: bool(record.get("posted")))
        if not query.include_credits:
            tests.append(lambda record: not is_credit(record))
        if not query.include_invoices:
            tests.append(is_credit)
        start, end = query.invoice_date_start[:10], query.invoice_date_end[:10]
        if start:
            tests.append(lambda record: str(record.get("invoice_date") or "")[:10] >= start)
        if end:
            tests.append(lambda record: "" < str(record.get("invoice_date") or "")[:10] <= end)
        if query.toplevel_id is not None:
            wanted_top, clients = query.toplevel_id, self._records["Client"]

            def in_top_level(record: dict[str, Any]) -> bool:
                client = _by_id(clients, record.get("client_id"))
                return client is not None and client.get("toplevel_id") == wanted_top

            tests.append(in_top_level)
        return tests

    def all_records(self, resource: str, include_inactive: bool = True) -> list[dict[str, Any]]:
        """Every record (deep copies), for tests and the page; includes invoice lines."""
        query = ListQuery(include_inactive=include_inactive, include_lines=True)
        return self.select(resource, query)[1]

    def latest(self, resource: str, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            table = self._records[resource]
            if resource in self._unordered:
                newest = sorted(table, reverse=True)[:limit]
            else:
                newest = list(islice(reversed(table), limit))
            return [self._present(resource, table[record_id], True) for record_id in newest]

    def _present(
        self, resource: str, record: dict[str, Any], include_lines: bool, copy: bool = True
    ) -> dict[str, Any]:
        """The record as answered (with its client's name); a deep copy unless ``copy`` is False.

        Why not always copy: the server only encodes what it is given, and copying every invoice's lines
        was a fifth of its time in a first sync. Without a copy the nested lists and objects are the
        store's own; that is safe to read outside the lock because a stored record is never changed in
        place (every write stores a new dict, see _BatchPlan.apply), but callers must not change them.
        """
        if include_lines or "lines" not in record:
            shown = dict(record)
        else:
            shown = {key: value for key, value in record.items() if key != "lines"}
        if copy:  # records are plain JSON, so a JSON round trip copies them
            for key, value in shown.items():
                if isinstance(value, (list, dict)):
                    shown[key] = json.loads(json.dumps(value))
        client = _by_id(self._records["Client"], shown.get("client_id")) if resource != "Client" else None
        if client is not None:
            shown["client_name"] = client.get("name")
        return shown

    # ----------------------------------------------------------------- writes

    def delete(self, resource: str, record_id: int) -> bool:
        """Remove one record (a client with its sites); False when there is none."""
        with self._lock:
            if record_id not in self._records[resource]:
                return False
            doomed = [(resource, record_id)]
            if resource == "Client":
                doomed += [
                    ("Site", i) for i, s in self._records["Site"].items() if s.get("client_id") == record_id
                ]
            if self._db is not None:
                self._db.executemany("DELETE FROM records WHERE resource=? AND id=?", doomed)
            for name, doomed_id in doomed:
                del self._records[name][doomed_id]
                self._versions[name] += 1
            return True

    def save_batch(
        self,
        resource: str,
        records: list[Any],
        allow_explicit_ids: bool = False,
        *,
        copy: bool = True,
        known_plain: bool = False,
    ) -> list[dict[str, Any]]:
        """Create or update every record of one POST body, or none of them (raises RecordProblem); the
        saved records as get() gives them (``copy`` as there). ``known_plain``: the records are plain JSON
        (wire.decode_body said so), so ``plain`` need not look at them again."""
        validator = self._validators[resource]
        for index, record in enumerate(records):
            validator.check(index, record)
        with self._lock:
            plan = _BatchPlan(self, allow_explicit_ids)
            saved_ids = [plan.apply(resource, index, record) for index, record in enumerate(records)]
            self._persist(plan.writes(), plan.next_id)
            for (name, record_id), body in plan.pending.items():
                table = self._records[name]
                if table and record_id not in table and record_id < next(reversed(table)):
                    self._unordered.add(name)
                table[record_id] = body
                self._versions[name] += 1
            self._next_id.update(plan.next_id)
            if self._plain and not (plan.plain and (known_plain or is_plain(records))):
                self._plain = False  # what is stored is the records' values, and ids, times and totals
            table = self._records[resource]
            return [self._present(resource, table[record_id], True, copy) for record_id in saved_ids]


class _BatchPlan:
    """The changes of one batch, worked out against an overlay before anything is stored."""

    def __init__(self, store: SandboxStore, allow_explicit_ids: bool) -> None:
        self._store = store
        self._allow_explicit_ids = allow_explicit_ids
        self.pending: dict[tuple[str, int], dict[str, Any]] = {}
        self.next_id: dict[str, int] = dict(store._next_id)
        self.plain = True  # whether every invoice total worked out here is finite
        self._now = server_timestamp()

    def lookup(self, resource: str, record_id: object) -> dict[str, Any] | None:
        if not isinstance(record_id, int) or isinstance(record_id, bool):
            return None
        pending = self.pending.get((resource, record_id))
        return pending if pending is not None else self._store._records[resource].get(record_id)

    def _new_id(self, counter: str) -> int:
        new_id = self.next_id[counter]
        self.next_id[counter] = new_id + 1
        return new_id

    def apply(self, resource: str, index: int, incoming: dict[str, Any]) -> int:
        record_id = incoming.get("id")
        existing = self.lookup(resource, record_id) if isinstance(record_id, int) and record_id > 0 else None
        creating = existing is None
        if creating and isinstance(record_id, int) and record_id > 0 and not self._allow_explicit_ids:
            raise RecordProblem(
                index,
                "id",
                f"Record {index}: there is no {resource} with id {record_id} to update. "
                "Leave out 'id' to create a new record, or look the record up again.",
            )
        merged: dict[str, Any] = {} if existing is None else dict(existing)
        merged.update({key: value for key, value in incoming.items() if key != "lines"})
        if existing is None:
            if isinstance(record_id, int) and record_id > 0:
                merged["id"] = record_id
                self.next_id[resource] = max(self.next_id[resource], record_id + 1)
            else:
                merged["id"] = self._new_id(resource)
        else:
            merged["id"] = existing["id"]
        self._check_parent(resource, index, merged)
        if resource == "Invoice":
            self._apply_lines(merged, incoming, existing)
        if resource in TIMESTAMP_FIELDS:
            merged[TIMESTAMP_FIELDS[resource]] = self._now
        if resource == "InvoicePayment" and merged.get("client_id") is None:
            invoice = self.lookup("Invoice", merged.get("invoice_id"))
            if invoice is not None:
                merged["client_id"] = invoice.get("client_id")
        self.pending[(resource, merged["id"])] = merged
        if resource == "Client" and creating and not merged.get("main_site_id"):
            self._create_main_site(merged)
        saved_id: int = merged["id"]
        return saved_id

    def _check_parent(self, resource: str, index: int, merged: dict[str, Any]) -> None:
        link = RESOURCES[resource].parent
        if link is None:
            return
        field, parent = link
        value = merged.get(field)
        if self.lookup(parent, value) is None:
            shown = "missing" if value is None else f"{value}"
            raise RecordProblem(
                index,
                field,
                f"Record {index}: {field} {shown} does not name an existing {parent}; "
                f"a {resource} must belong to one. Create the {parent} first and use the id Halo gave it.",
            )

    def _apply_lines(
        self, merged: dict[str, Any], incoming: dict[str, Any], existing: dict[str, Any] | None
    ) -> None:
        if "lines" in incoming:
            old_ids = {line.get("id") for line in (existing or {}).get("lines") or []}
            lines = []
            for line in incoming["lines"] or []:
                stored = dict(line)
                if stored.get("id") not in old_ids or not stored.get("id"):
                    stored["id"] = self._new_id(LINE_COUNTER)
                stored["ihid"] = merged["id"]
                lines.append(stored)
            merged["lines"] = lines
        else:
            merged.setdefault("lines", [])
        merged["total"] = invoice_total(merged["lines"])
        self.plain = self.plain and math.isfinite(merged["total"])

    def _create_main_site(self, client: dict[str, Any]) -> None:
        site_id = self._new_id("Site")
        self.pending[("Site", site_id)] = {
            "id": site_id,
            "name": MAIN_SITE_NAME,
            "client_id": client["id"],
            TIMESTAMP_FIELDS["Site"]: self._now,
        }
        client["main_site_id"] = site_id
        client["main_site_name"] = MAIN_SITE_NAME

    def writes(self) -> list[tuple[str, int, dict[str, Any]]]:
        return [(resource, record_id, body) for (resource, record_id), body in self.pending.items()]


def invoice_total(lines: Iterable[dict[str, Any]]) -> float:
    """Gross total like Halo shows it: each line's net (or qty x price) plus its tax, to the penny."""
    total = 0.0
    for line in lines:
        net = line.get("net_amount")
        if net is None:
            net = (line.get("qty_order") or 0) * (line.get("unit_price") or 0)
        total += net + (line.get("tax_amount") or 0)
    return round(total, 2)


def is_credit(invoice: dict[str, Any]) -> bool:
    """A credit note: Halo's InvoiceHeader has no credit flag; LedgerBridge's credit notes (and the
    sandbox's) carry negative totals."""
    total = invoice.get("total")
    return isinstance(total, int | float) and not isinstance(total, bool) and total < 0


def _by_id(records: dict[int, dict[str, Any]], record_id: object) -> dict[str, Any] | None:
    """The record with Halo id ``record_id``; None for no id (a missing or non-numeric reference)."""
    return records.get(record_id) if isinstance(record_id, int) else None
