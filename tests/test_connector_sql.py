"""Paged reads through real unixODBC: undecodable text from a driver costs nothing but that value's oddity.

The SQLite ODBC driver hands some astral characters (here U+10D800) back as truncated UTF-16, and pyodbc's
UnicodeDecodeError would otherwise lose the whole page and stop the stream.
"""

from __future__ import annotations

import sqlite3

import pyodbc
import pytest

from connectors.sql import decode_native_text, iter_rows, iter_values

ODD = "\U0010d800"


def test_a_page_with_undecodable_text_is_read_again_tolerantly(tmp_path):
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, name VARCHAR(60))")
        db.executemany(
            "INSERT INTO t VALUES (?, ?)",
            [(f"K{n:03d}", ODD if n == 7 else f"Name {n} café 🚀") for n in range(20)],
        )
    connection = pyodbc.connect(f"Driver=SQLite3;Database={path}")
    with pytest.raises(UnicodeDecodeError):  # what pyodbc does on its own
        connection.cursor().execute("SELECT k, name FROM t ORDER BY k").fetchall()
    rows = list(iter_rows(connection, "SELECT k, name FROM t ORDER BY k", page_size=5))
    assert [row["k"] for row in rows] == [f"K{n:03d}" for n in range(20)]  # none lost, none twice
    assert rows[7]["name"] == ODD
    assert rows[8]["name"] == "Name 8 café 🚀"
    assert connection.get_output_converter(pyodbc.SQL_VARCHAR) is None  # normal decoding afterwards
    connection.close()


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Café 🚀".encode(), "Café 🚀"),
        ("Café".encode("utf-16-le"), "Café"),
        ("Café Ltd".encode("cp1252"), "Café Ltd"),
        (b"", ""),
        (None, None),
    ],
)
def test_native_text_decoding(raw, text):
    assert decode_native_text(raw) == text


def test_bytes_valid_in_no_encoding_become_a_row_problem_not_mojibake():
    """0x81 and 0x8D are undefined in cp1252 and invalid UTF-8: no guess is made, the row is a problem.

    (The SQLite ODBC driver repairs such bytes itself before pyodbc sees them, so this is shown at the
    decoding step the tolerant re-read uses, then through the shared row conversion.)
    """
    from connectors.common import convert_row, text
    from connectors.sql import UndecodableText
    from core.records import Customer, SourceProblem

    raw = b"Caf\x81\x8d Ltd"
    decoded = decode_native_text(raw)
    assert isinstance(decoded, UndecodableText)
    result = convert_row("customers", "C1", lambda: Customer(key="C1", name=text(decoded)), what="Customer")
    assert isinstance(result, SourceProblem)
    assert "not in a character set LedgerBridge can read" in result.message and "C1" in result.message
    assert decode_native_text("Café".encode("cp1252")) == "Café"  # a real cp1252 byte still reads


def _values_and_dicts(sql, columns, page_size=2):
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (a INTEGER, b TEXT, c REAL)")
    connection.executemany("INSERT INTO t VALUES (?, ?, ?)", [(n, f"b{n}", n / 4) for n in range(5)])
    values = [tuple(row) for row in iter_values(connection, sql, columns, page_size=page_size)]
    dicts = list(iter_rows(connection, sql, page_size=page_size))
    connection.close()
    return values, dicts


@pytest.mark.parametrize(
    ("sql", "columns"),
    [
        ("SELECT a, b, c FROM t ORDER BY a", ("a", "b", "c")),  # as selected: the driver's rows as they are
        ("SELECT a, b, c FROM t ORDER BY a", ("c", "a")),  # another order, fewer columns
        ("SELECT a, b, c FROM t ORDER BY a", ("b",)),
        ("SELECT a, b, c FROM t ORDER BY a", ("a", "missing", "c")),  # a name the driver does not report
        ("SELECT a, b AS a, c FROM t ORDER BY 1", ("a", "c")),  # a repeated name: its last value
    ],
)
def test_iter_values_gives_what_iter_rows_dicts_give_for_each_column(sql, columns):
    """``row[i]`` from ``iter_values`` is ``row.get(columns[i])`` of the dict ``iter_rows`` yields."""
    values, dicts = _values_and_dicts(sql, columns)
    assert len(values) == len(dicts) == 5
    assert values == [tuple(row.get(column) for column in columns) for row in dicts]


def test_iter_values_reads_a_page_with_undecodable_text_again_like_iter_rows(tmp_path):
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, name VARCHAR(60))")
        db.executemany(
            "INSERT INTO t VALUES (?, ?)", [(f"K{n:03d}", ODD if n == 7 else f"N{n}") for n in range(20)]
        )
    connection = pyodbc.connect(f"Driver=SQLite3;Database={path}")
    rows = list(iter_values(connection, "SELECT k, name FROM t ORDER BY k", ("name", "k"), page_size=5))
    assert [row[1] for row in rows] == [f"K{n:03d}" for n in range(20)]  # none lost, none twice
    assert rows[7][0] == ODD and rows[8][0] == "N8"
    assert connection.get_output_converter(pyodbc.SQL_VARCHAR) is None
    connection.close()
