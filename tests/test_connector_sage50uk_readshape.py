"""The shape of the Sage 50 UK invoice read (issue 16) changes no record.

Why: the invoices stream was made cheaper in statements (one ledger look-up per chunk instead of two).
Records must not change at all, so what the connector read from the stand-ins before that change (the code at
commit ccefd7c) is pinned in ``tests/standins/sage50uk_records.txt`` as the records' repr, and every read is
compared with it, at several page sizes (pages and IN chunks end in different places). A full re-read and an
incremental read, which take different paths, must also give the same record for the same rows.

Regenerate the pinned file only for a change that is meant to change records:
``python -c "from tests.test_connector_sage50uk_readshape import snapshot; print(snapshot(), end='')"
> tests/standins/sage50uk_records.txt``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyodbc
import pytest

from connectors.registry import configure_odbc_connection
from connectors.sage50uk import Sage50UKConnector
from core.records import Record, SourceProblem
from tests.fixtures_odbc import _require_sqlite_odbc, sqlite_odbc_connection_string
from tests.standins.sage50uk import BASE, build_company, make_large, touch

LONDON = ZoneInfo("Europe/London")
PINNED = Path(__file__).parent / "standins" / "sage50uk_records.txt"
STREAMS = ("tax_rates", "customers", "suppliers", "items", "invoices")
# Cursors for the incremental reads: before every row, on the stand-in's base time, and inside its range.
CURSORS = (
    datetime(2000, 1, 1, tzinfo=LONDON),
    BASE.replace(tzinfo=LONDON),
    (BASE + timedelta(days=2)).replace(tzinfo=LONDON),
    (BASE + timedelta(minutes=40)).replace(tzinfo=LONDON),
    (BASE + timedelta(days=9)).replace(tzinfo=LONDON),
)


def _connector(path: Path, page_size: int) -> Sage50UKConnector:
    connection_string = sqlite_odbc_connection_string(path)
    return Sage50UKConnector(
        lambda: configure_odbc_connection(pyodbc.connect(connection_string, autocommit=True)),
        local_zone=LONDON,
        page_size=page_size,
    )


def _companies(folder: Path) -> Iterator[tuple[str, Path]]:
    """The realistic-and-nasty stand-in, and a small generated one (receipts on one invoice in three)."""
    yield "standin", build_company(folder / "standin.sqlite")
    large = make_large(folder / "large.sqlite", 7, 5, 60, 3)
    # A receipt changed after the invoice: only the ledger tells an incremental read to re-read it.
    touch(large, "AUDIT_USAGE", "USAGE_NUMBER", 30, BASE + timedelta(days=3), REFERENCE="BACS 30 again")
    yield "large", large


def _lines(label: str, records: Iterator[Record | SourceProblem]) -> list[str]:
    return [f"{label}: {record!r}" for record in records]


def _read_all(path: Path, page_size: int, company: str) -> list[str]:
    found: list[str] = []
    with _connector(path, page_size) as connector:
        for stream in STREAMS:
            found += _lines(f"{company} {stream}", connector.read(stream))
        for since in CURSORS:
            found += _lines(
                f"{company} invoices since {since.isoformat()}", connector.read("invoices", since)
            )
    return found


def snapshot(page_size: int = 4) -> str:
    """Every record the connector reads from the stand-ins, one repr a line."""
    _require_sqlite_odbc()
    with tempfile.TemporaryDirectory(prefix="lb-readshape-") as folder:
        found: list[str] = []
        for company, path in _companies(Path(folder)):
            found += _read_all(path, page_size, company)
    return "".join(f"{line}\n" for line in found)


@pytest.mark.parametrize("page_size", [1, 4, 7, 500])
def test_every_record_is_the_one_pinned_before_the_reads_were_reshaped(page_size):
    pinned = PINNED.read_text(encoding="utf-8").splitlines()
    assert len(pinned) > 200  # the pinned file holds the stand-ins' records, not a stray empty read
    found = snapshot(page_size).splitlines()
    assert found == pinned


def _by_key(records: Iterator[Record | SourceProblem]) -> dict[str, Record | SourceProblem]:
    found: dict[str, Record | SourceProblem] = {}
    for record in records:
        assert record.key not in found, f"{record.key} read twice"
        found[record.key] = record
    return found


@pytest.mark.parametrize("page_size", [3, 500])
def test_a_full_and_an_incremental_read_give_the_same_records_for_the_same_rows(tmp_path, page_size):
    _require_sqlite_odbc()
    for _company, path in _companies(tmp_path):
        with _connector(path, page_size) as connector:
            full = _by_key(connector.read("invoices"))
            assert len(full) > 10
            everything = _by_key(connector.read("invoices", CURSORS[0]))
            assert everything == full  # a cursor before every row: the same records by the other path
            sizes = []
            for since in CURSORS[1:]:
                changed = _by_key(connector.read("invoices", since))
                sizes.append(len(changed))
                for key, record in changed.items():
                    assert record == full[key]
            assert any(0 < size < len(full) for size in sizes)  # some cursor reads part of the books


class _Recording:
    """A connection that notes each statement's SQL and parameters."""

    def __init__(self, inner: pyodbc.Connection, seen: list[tuple[str, tuple[object, ...]]]) -> None:
        self.inner, self.seen = inner, seen

    def cursor(self) -> _Recording:
        outer = self

        class Cursor:
            def __init__(self) -> None:
                self.cursor = outer.inner.cursor()

            def execute(self, sql: str, params: tuple[object, ...] = ()) -> object:
                outer.seen.append((sql, tuple(params)))
                return self.cursor.execute(sql, params)

            def __getattr__(self, name: str) -> object:
                return getattr(self.cursor, name)

        return Cursor()  # type: ignore[return-value]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_the_ledger_is_asked_once_a_chunk_with_each_column_compared_with_its_own_type(tmp_path):
    _require_sqlite_odbc()
    path = make_large(tmp_path / "large.sqlite", 7, 5, 450, 3)
    seen: list[tuple[str, tuple[object, ...]]] = []
    connection_string = sqlite_odbc_connection_string(path)
    connector = Sage50UKConnector(
        lambda: _Recording(
            configure_odbc_connection(pyodbc.connect(connection_string, autocommit=True)), seen
        ),
        local_zone=LONDON,
        page_size=300,
    )
    with connector:
        assert sum(1 for _ in connector.read("invoices")) == 450
        headers = [(sql, params) for sql, params in seen if "FROM AUDIT_HEADER" in sql]
        assert len(headers) == 3  # pages of 300 and 150 numbers; 200 values an IN list
        for sql, params in headers:
            assert "INV_REF IN (" in sql and "OR ISP_REFERENCE IN (" in sql
            half = len(params) // 2
            assert all(isinstance(value, str) for value in params[:half])  # VARCHAR with text
            assert all(isinstance(value, int) for value in params[half:])  # INTEGER with integers
