"""The stand-in's QODBC write rules themselves, driven by raw SQL through unixODBC: misuse must be refused.

Why: the writer's tests can only fail if the stand-in refuses what QODBC would (a last line that never comes,
lines that disagree on the header, a customer given twice or not at all, a name already in use).
"""

from __future__ import annotations

import sqlite3
from datetime import date

import pyodbc
import pytest

from tests.standins import qodbc_writes
from tests.standins import quickbooks as standin

_COLUMNS = (
    "CustomerRefListID",
    "RefNumber",
    "TxnDate",
    "CustomFieldOther",
    "InvoiceLineItemRefListID",
    "InvoiceLineDesc",
    "InvoiceLineQuantity",
    "InvoiceLineRate",
    "InvoiceLineAmount",
    "InvoiceLineSalesTaxCodeRefListID",
    "FQSaveToCache",
)
LINE_SQL = f'INSERT INTO "InvoiceLine" ({", ".join(_COLUMNS)}) VALUES ({", ".join("?" * len(_COLUMNS))})'


@pytest.fixture
def books(tmp_path, qodbc_rules):
    path = tmp_path / "company.sqlite"
    connection_string = qodbc_writes.writable_connection_string(
        standin.build_quickbooks_company(path), qodbc_rules
    )
    return path, lambda: pyodbc.connect(connection_string, autocommit=True)


def line(marker: str, *, cache: int, customer: str = "80000001-1", ref: str | None = "R1", item: str = "S1"):
    return (customer, ref, date(2024, 5, 1), marker, item, "Support", 1, 10, 10, "STC-G", cache)


def count(path, sql: str, params: tuple = ()) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, params).fetchone()[0]
    finally:
        connection.close()


def test_cached_lines_are_not_in_the_books_and_die_with_their_connection(books):
    path, connect = books
    first = connect()
    first.execute(LINE_SQL, line("M1", cache=1))
    first.execute(LINE_SQL, line("M1", cache=1))
    assert count(path, "SELECT COUNT(*) FROM InvoiceLine WHERE CustomFieldOther = 'M1'") == 0
    first.close()  # the cache goes with the connection
    second = connect()
    second.execute(LINE_SQL, line("M1", cache=0))
    second.close()
    assert count(path, "SELECT COUNT(*) FROM Invoice WHERE CustomFieldOther = 'M1'") == 1
    assert count(path, "SELECT COUNT(*) FROM InvoiceLine WHERE CustomFieldOther = 'M1'") == 1


def test_the_last_line_saves_header_and_cached_lines_as_one_transaction(books):
    path, connect = books
    connection = connect()
    for cache in (1, 1, 0):
        connection.execute(LINE_SQL, line("M2", cache=cache))
    connection.close()
    assert count(path, "SELECT COUNT(DISTINCT TxnID) FROM InvoiceLine WHERE CustomFieldOther = 'M2'") == 1
    assert count(path, "SELECT COUNT(*) FROM InvoiceLine WHERE CustomFieldOther = 'M2'") == 3
    # 3 x 10.00 at GST 5 %: QuickBooks' totals, computed by the stand-in, not sent by the caller.
    assert count(
        path, "SELECT Subtotal + SalesTaxTotal FROM Invoice WHERE CustomFieldOther = 'M2'"
    ) == pytest.approx(31.5)


@pytest.mark.parametrize(
    ("first", "second", "words"),
    [
        (line("M3", cache=1), line("M3", cache=0, customer="80000002-1"), "header fields differ"),
        (line("M3", cache=1), line("M3", cache=1, ref="R2"), "header fields differ"),
        (line("M3", cache=1), line("M3", cache=0, item="NOPE"), "Item"),
        # The header is checked when the last line saves it (cached lines only have to agree with it).
        (line("M3", cache=1, ref="123456789012"), line("M3", cache=0, ref="123456789012"), "RefNumber"),
        (line("M3", cache=1, customer="80000099-1"), line("M3", cache=0, customer="80000099-1"), "Customer"),
    ],
)
def test_misuse_of_the_cache_and_bad_references_are_refused(books, first, second, words):
    path, connect = books
    connection = connect()
    connection.execute(LINE_SQL, first)
    with pytest.raises(pyodbc.Error, match=words):
        connection.execute(LINE_SQL, second)
    connection.close()
    assert count(path, "SELECT COUNT(*) FROM Invoice WHERE CustomFieldOther = 'M3'") == 0


def test_the_customer_is_given_once_by_list_id_or_full_name(books):
    path, connect = books
    connection = connect()
    both = (
        'INSERT INTO "InvoiceLine" (CustomerRefListID, CustomerRefFullName, CustomFieldOther, '
        "InvoiceLineItemRefListID, InvoiceLineAmount) VALUES (?, ?, 'M4', 'S1', 5)"
    )
    with pytest.raises(pyodbc.Error, match="not both"):
        connection.execute(both, "80000001-1", "O'Neil's Pub & Grill")
    by_name = (
        'INSERT INTO "InvoiceLine" (CustomerRefFullName, CustomFieldOther, InvoiceLineItemRefListID, '
        "InvoiceLineAmount) VALUES (?, 'M4', 'S1', 5)"
    )
    connection.execute(by_name, "O'Neil's Pub & Grill")
    connection.close()
    assert (
        count(
            path,
            "SELECT COUNT(*) FROM Invoice WHERE CustomFieldOther = 'M4' AND CustomerRefListID = '80000001-1'",
        )
        == 1
    )


def test_list_adds_follow_quickbooks_rules(books):
    path, connect = books
    connection = connect()
    with pytest.raises(pyodbc.Error, match="already in use"):
        connection.execute(
            "INSERT INTO Customer (Name) VALUES (?)", "o'neil's pub & grill"
        )  # case-insensitive
    with pytest.raises(pyodbc.Error, match="too long"):
        connection.execute("INSERT INTO Customer (Name) VALUES (?)", "x" * 42)
    with pytest.raises(pyodbc.Error, match="Account"):
        connection.execute(
            "INSERT INTO ItemService (Name, SalesOrPurchaseAccountRefFullName) VALUES ('Fresh', 'Nowhere')"
        )
    connection.execute("INSERT INTO Customer (Name) VALUES ('Fresh Customer')")
    connection.close()
    assert (
        count(path, "SELECT COUNT(*) FROM Customer WHERE Name = 'Fresh Customer' AND ListID LIKE '8%-%'") == 1
    )
