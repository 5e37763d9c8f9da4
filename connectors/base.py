"""The declared connector interface (singer-sdk style): streams with a key and a replication key.

Why: the engine must not care whether rows come from Sage's ODBC driver, QODBC or a user's SELECT. Every
connector lists its streams and yields canonical records (``core.records``) page by page with ``fetchmany``,
so memory does not grow with the size of the books.

Reading is driven by each stream's declaration (``StreamSpec``): ``read_declared`` selects the declared
columns from the stream's table, keeps rows changed since the cursor by its replication key (the package's
``since_filter``, or its own ``declared_rows`` where the package pages or filters differently), orders by
its key, and turns each row into a record or a ``SourceProblem`` naming the key (``records``). IN (...)
lists of child rows go a chunk at a time (``rows_in``). Writing to the books, when it comes, is a separate
``Writer`` protocol beside this base: a reader does not have to write.

Contract of ``read(stream, since)``:
- yields ``Record`` objects of the stream's type, or ``SourceProblem`` for a row that cannot be converted
  (the stream goes on after a bad row);
- with ``since`` set, yields only rows whose replication column is >= ``since`` plus every row whose
  replication column is NULL (the engine applies its look-back window before calling);
- invoices carry their lines, paid state and payments; the invoice's ``modified`` is the latest change of
  the invoice or anything that changed its paid state, so a new payment re-reads the invoice;
- driver failures are raised as ``core.errors`` (see ``connectors.errors.error_from_odbc``), never raw.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import partial
from typing import Any, ClassVar

from connectors.common import (
    CONVERSION_ERRORS,
    MAX_IN_LIST,
    changed_since,
    chunks,
    pages,
    placeholders,
    row_problem,
    since_parameter,
    text,
    when,
)
from connectors.errors import error_from_odbc
from connectors.sql import RESERVED_WORDS, iter_rows, iter_values, name
from connectors.unchanged import KnownRows, ReadItem, Unchanged, digest
from core.errors import LedgerBridgeError
from core.records import EntityName, Record, SourceProblem

# Where ``rows_in`` puts a chunk's placeholders: "... WHERE INVOICE_NUMBER IN (<values>)".
IN_VALUES = "IN (<values>)"

# A row (column -> value) and its key -> the canonical record; raises RowProblem/ValueError when it cannot.
RowConverter = Callable[[dict[str, Any], str], Record]
# A row and its key -> the other rows its record is built from (an invoice's lines), as cells to digest.
ChildCells = Callable[[dict[str, Any], str], Any]
# One stream's reader: since -> records and problems.
StreamReader = Callable[[datetime | None], Iterator[ReadItem]]

DEFAULT_PAGE_SIZE = 500

# A DB-API 2 connection factory: pyodbc.connect(...) in use, sqlite3 for the demo company.
ConnectionFactory = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: EntityName
    table: str  # the package's main table, e.g. 'SALES_LEDGER'
    key: str  # the source column(s) that identify a row, e.g. 'ACCOUNT_REF'
    replication_key: str | None  # e.g. 'RECORD_MODIFY_DATE'; None: every read is a full read
    deleted_marker: str  # how deleted / inactive rows show, e.g. "RECORD_DELETED=1 or INACTIVE_FLAG=1"
    note: str = ""  # what a person should know about how it is read (time zones, margins, extra tables)


@dataclass(frozen=True, slots=True)
class TableUse:
    """One table a connector reads and why: what ``ledgerbridge doctor`` probes and explains.

    ``without`` says, in the user's words, what LedgerBridge does when the table or one of its columns is
    missing; ``optional`` tables leave the rest of the stream working. ``money`` and ``dates`` name the
    columns whose SQL type the connector converts (the doctor reports the type the driver declares).
    """

    table: str
    columns: tuple[str, ...]
    without: str
    optional: bool = False
    count: bool = False  # the main table of a stream: the doctor counts its rows
    money: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """The answer to "Test connection": one line for the user, what to do, and what was found."""

    ok: bool
    message: str
    action: str = ""
    detail: str = ""  # e.g. "Company: Acme Ltd; 42 customers; driver Sage Line 50 v30"


class Connector(ABC):
    kind: ClassVar[str]  # 'sage50uk', 'sage50ca', 'quickbooks', 'odbc'
    display_name: ClassVar[str]  # 'Sage 50 UK'
    # True where the SQL since-filter is deliberately wide (QuickBooks' offsets, Sage 50 CA's split stamp):
    # the exact test is repeated in Python on each record.
    exact_since_in_python: ClassVar[bool] = False
    # True where every conversion this connector's streams make reads only the row's cells (and child rows
    # it digests with them) and ``conversion_context``: such a connector may yield ``Unchanged`` for rows
    # the engine knows (``read_skipping``). Each package opts in once its converters have been checked.
    skips_unchanged_rows: ClassVar[bool] = False

    def __init__(
        self,
        connect: ConnectionFactory,
        *,
        local_zone: tzinfo | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self._connect = connect
        self.local_zone = local_zone
        self.page_size = page_size
        self._connection: Any = None
        self._known: KnownRows | None = None  # set by read_skipping for the stream being read

    # --- what every connector declares ---------------------------------------------------------------------

    @abstractmethod
    def streams(self) -> tuple[StreamSpec, ...]:
        """The streams this package offers, in dependency order."""

    @abstractmethod
    def read(self, stream: EntityName, since: datetime | None = None) -> Iterator[ReadItem]:
        """Yield the stream's records changed since ``since`` (all when None), a page at a time."""

    @abstractmethod
    def test_connection(self) -> ConnectionCheck:
        """Open the source for real and say, in the user's words, whether it works and what to fix."""

    def read_skipping(
        self, stream: EntityName, since: datetime | None, known: KnownRows
    ) -> Iterator[Record | SourceProblem | Unchanged]:
        """``read``, but a row ``known`` holds the digest of comes as ``Unchanged``, not converted.

        A connector that has not opted in (``skips_unchanged_rows``) yields every record, as ``read``."""
        if not self.skips_unchanged_rows:
            yield from self.read(stream, since)
            return
        self._known = known
        try:
            yield from self.read(stream, since)
        finally:
            self._known = None

    def conversion_context(self) -> object:
        """What this connector's conversions read besides the rows (its package, zone, driver): part of
        every row digest's salt, so a change there converts every row again."""
        driver = ""
        getinfo = getattr(self.connection(), "getinfo", None)  # opened here if not yet: the same either way
        if getinfo is not None:
            try:
                import pyodbc

                driver = f"{getinfo(pyodbc.SQL_DRIVER_NAME)} {getinfo(pyodbc.SQL_DRIVER_VER)}"
            except Exception:  # a driver that cannot say: the rest of the context still holds
                driver = ""
        return (self.kind, repr(self.local_zone), driver)

    # --- what the doctor asks ------------------------------------------------------------------------------

    def tables(self) -> tuple[TableUse, ...]:
        """Every table and column this connector reads (empty for a source described by the user's SQL)."""
        return ()

    def identifier(self, name: str) -> str:
        """A table or column name as this package's SQL must spell it: reserved words (QODBC's ``Desc``)
        quoted with the driver's own identifier quote character (MySQL's is a backtick), others plain."""
        if name.upper() not in RESERVED_WORDS:
            return name
        quote_char = '"'
        getinfo = getattr(self.connection(), "getinfo", None)
        if getinfo is not None:
            try:
                import pyodbc

                quote_char = str(getinfo(pyodbc.SQL_IDENTIFIER_QUOTE_CHAR)).strip() or '"'
            except Exception:  # a driver that cannot say: the SQL-92 double quote
                quote_char = '"'
        closing = "]" if quote_char == "[" else quote_char
        return f"{quote_char}{name}{closing}"

    def package_facts(self) -> list[tuple[str, str]]:
        """Facts about the books worth a support engineer's eye (label, value); none by default."""
        return []

    # --- shared plumbing ---------------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[Any] = (), *, during: str = "") -> Iterator[dict[str, Any]]:
        """``iter_rows`` on this connector's connection, page size and package (driver errors mapped)."""
        return iter_rows(
            self.connection(), sql, params, page_size=self.page_size, package=self.kind, during=during
        )

    def rows_in(
        self,
        sql: str,
        values: Sequence[Any],
        *,
        during: str,
        params: Sequence[Any] = (),
        size: int = MAX_IN_LIST,
    ) -> Iterator[dict[str, Any]]:
        """The rows of ``sql`` (which holds ``IN_VALUES`` once) for ``values``, a short IN list at a time:
        some drivers (Sage's among them) are slow or fail with long parameter lists. ``params`` come
        before the values."""
        for chunk_sql, chunk in _in_lists(sql, values, size):
            yield from self.rows(chunk_sql, [*params, *chunk], during=during)

    def ordered_rows(
        self, sql: str, columns: Sequence[str], params: Sequence[Any] = (), *, during: str = ""
    ) -> Iterator[Sequence[Any]]:
        """``iter_values`` on this connector's connection: ``rows`` as values in ``columns`` order."""
        return iter_values(
            self.connection(),
            sql,
            columns,
            params,
            page_size=self.page_size,
            package=self.kind,
            during=during,
        )

    def ordered_rows_in(
        self,
        sql: str,
        columns: Sequence[str],
        values: Sequence[Any],
        *,
        during: str,
        size: int = MAX_IN_LIST,
    ) -> Iterator[Sequence[Any]]:
        """``rows_in`` as ``ordered_rows``: a short IN list of ``values`` at a time."""
        for chunk_sql, chunk in _in_lists(sql, values, size):
            yield from self.ordered_rows(chunk_sql, columns, chunk, during=during)

    # --- reading a stream from its declaration -------------------------------------------------------------

    def read_declared(
        self,
        stream: EntityName,
        columns: Sequence[str],
        convert: RowConverter,
        what: str,
        since: datetime | None,
    ) -> Iterator[ReadItem]:
        """Read ``stream`` as its ``StreamSpec`` declares it: ``columns`` of its table, changed since
        ``since`` by its replication key, in key order, each row a record or a problem naming its key."""
        spec = self.stream(stream)
        rows = self.declared_rows(spec, columns, since, during=f"reading {what.lower()}s")
        return self.records(spec, rows, convert, what, since if self.exact_since_in_python else None)

    def declared_rows(
        self, spec: StreamSpec, columns: Sequence[str], since: datetime | None, *, during: str
    ) -> Iterator[dict[str, Any]]:
        """``SELECT columns FROM table [WHERE since_filter] ORDER BY key``; packages that page or filter
        another way (keyset pages, two statements) override it."""
        sql = f"SELECT {', '.join(self.identifier(c) for c in columns)} FROM {name(spec.table)}"
        condition, params = self.since_filter(spec, since)
        if condition:
            sql += f" WHERE {condition}"
        return self.rows(f"{sql} ORDER BY {self.identifier(spec.key)}", params, during=during)

    def since_filter(self, spec: StreamSpec, since: datetime | None) -> tuple[str, list[Any]]:
        """SQL keeping rows changed at/after ``since`` by the replication key, plus rows with none; ("", [])
        for a full read. The default compares the package's naive local timestamp as a parameter."""
        if since is None or spec.replication_key is None:
            return "", []
        column = self.identifier(spec.replication_key)
        parameter = since_parameter(since, self.local_zone, self.connection())
        return f"({column} >= ? OR {column} IS NULL)", [parameter]

    def key_of(self, spec: StreamSpec, row: dict[str, Any]) -> str:
        """A row's key as the user sees it (the declared key column)."""
        return text(row.get(spec.key))

    def modified_of(self, spec: StreamSpec, row: dict[str, Any]) -> datetime | None:
        """A row's change time from the replication key (naive values are in the package's zone)."""
        if spec.replication_key is None:
            return None
        return when(row.get(spec.replication_key), self.local_zone, "modified date")

    def records(
        self,
        spec: StreamSpec,
        rows: Iterable[dict[str, Any]],
        convert: RowConverter,
        what: str,
        since: datetime | None = None,
        children: ChildCells | None = None,
    ) -> Iterator[Record | SourceProblem | Unchanged]:
        """Each row as a record, or a ``SourceProblem`` naming its key (the stream goes on after a bad row);
        with ``since``, only what changed at/after it (or is undated): the exact test after a wide SQL one.
        While ``read_skipping``, a row whose digest the engine knows comes as ``Unchanged``; ``children``
        gives the other rows ``convert`` builds its record from, so the digest covers them too."""
        known = self._known
        if known is not None and known.entity == spec.name and since is None:
            for page in pages(rows, self.page_size):
                yield from self._records_skipping(spec, page, convert, what, known, children)
            return
        for row in rows:
            record = self._record(spec, row, convert, what)
            if since is None or changed_since(record, since):
                yield record

    def _record(
        self, spec: StreamSpec, row: dict[str, Any], convert: RowConverter, what: str
    ) -> Record | SourceProblem:
        key = ""  # a key that cannot be read itself: "A customer without a key was not read: ..."
        try:
            key = self.key_of(spec, row)
            return convert(row, key)
        except CONVERSION_ERRORS as exc:
            stamp = partial(self.modified_of, spec, row)  # only a bad row needs its stamp
            return row_problem(spec.name, key, exc, what=what, modified=stamp)

    def _records_skipping(
        self,
        spec: StreamSpec,
        page: list[dict[str, Any]],
        convert: RowConverter,
        what: str,
        known: KnownRows,
        children: ChildCells | None,
    ) -> Iterator[Record | SourceProblem | Unchanged]:
        """``records`` for one page, its rows' digests compared with the ones the engine kept."""
        keyed: list[tuple[str, str]] = []  # (key, digest); ("", "") where the key cannot be read
        for row in page:
            try:
                key = self.key_of(spec, row)
            except CONVERSION_ERRORS:
                keyed.append(("", ""))
                continue
            cells: list[Any] = list(row.values())
            if children is not None:
                cells.append(children(row, key))
            keyed.append((key, digest(known.salt, cells)))
        kept = known.kept([key for key, row_digest in keyed if row_digest])
        for row, (key, row_digest) in zip(page, keyed, strict=True):
            if row_digest and kept.get(key) == row_digest:
                yield Unchanged(spec.name, key)
                continue
            record = self._record(spec, row, convert, what)
            known.note(key, row_digest)
            yield record

    def stream(self, name: EntityName) -> StreamSpec:
        for spec in self.streams():
            if spec.name == name:
                return spec
        raise KeyError(name)

    def connection(self) -> Any:
        """The open connection (opened on first use; reconnect per run, Sage's driver degrades over time).

        A failure to connect is raised as a ``core.errors`` error worded by ``connect_error``.
        """
        if self._connection is None:
            try:
                self._connection = self._connect()
            except LedgerBridgeError:
                raise
            except Exception as exc:
                raise self.connect_error(exc) from exc
        return self._connection

    def connect_error(self, exc: BaseException) -> LedgerBridgeError:
        """Why connecting failed, in the user's words (packages that know their failures override it)."""
        return error_from_odbc(exc, package=self.kind, during="connecting")

    def scalar(self, sql: str, during: str) -> Any:
        """The first column of the first row of ``sql`` (None when there is no row): counts for the checks."""
        for row in iter_rows(self.connection(), sql, package=self.kind, during=during):
            return next(iter(row.values()))
        return None

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _in_lists(sql: str, values: Sequence[Any], size: int) -> Iterator[tuple[str, Sequence[Any]]]:
    """``sql`` (holding ``IN_VALUES`` once) with one placeholder per value, for each chunk of ``values``."""
    for chunk in chunks(values, size):
        yield sql.replace("<values>", placeholders(len(chunk))), chunk
