"""Property tests: odd rows never crash a Sage 50 Canada or QuickBooks stream.

Every generated row comes out exactly once, as a record or as a SourceProblem carrying the row's key and a
reason, and a good row placed after all of them still comes through. Reads go through real unixODBC + the
SQLite3 driver. Sage 50 CA values stay inside what its MySQL column types can hold (odd text, NULLs, extreme
numbers); QuickBooks' stand-in keeps money and TimeModified as text, so those get arbitrary text too.
"""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyodbc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.quickbooks import QuickBooksConnector
from connectors.sage50ca import Sage50CAConnector
from core.records import Customer, Invoice, Item, SourceProblem
from tests.standins import quickbooks as qb_standin
from tests.standins import sage50ca as ca_standin

PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

odd_text = st.one_of(st.none(), st.text(max_size=60), st.just("O'Brien; DROP TABLE tcustomr;--"))
small_int = st.one_of(st.none(), st.integers(min_value=-(2**31), max_value=2**31 - 1))
odd_decimal = st.one_of(
    st.none(),
    st.decimals(min_value=-(10**15), max_value=10**15, places=4, allow_nan=False).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
day_text = st.one_of(st.none(), st.dates().map(lambda d: d.isoformat()))
time_text = st.one_of(st.none(), st.times().map(lambda t: t.isoformat(timespec="seconds")))


def _sage_connector(connection_string: str) -> Sage50CAConnector:
    return Sage50CAConnector(lambda: pyodbc.connect(connection_string), local_zone=UTC, page_size=3)


@PROPERTY_SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.integers(min_value=-(2**31), max_value=999_999),
            odd_text,
            odd_text,
            small_int,
            small_int,
            day_text,
            time_text,
        ),
        max_size=12,
        unique_by=lambda row: row[0],
    )
)
def test_sage50ca_odd_customers_become_records_or_problems(rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "simply.sqlite"
        connection = sqlite3.connect(path)
        ca_standin.create_tables(connection)
        columns = "lId, sName, sEmail, lTaxCode, bInactive, dtASDate, tmASTime"
        ca_standin.insert_rows(
            connection,
            "tcustomr",
            columns,
            [*rows, (2**31 - 1, "Good Row Ltd", "", 0, 0, "2024-01-01", "00:00:00")],
        )
        connection.close()
        with _sage_connector(f"Driver=SQLite3;Database={path}") as connector:
            results = list(connector.read("customers"))
            since_results = list(connector.read("customers", datetime(2000, 1, 1, tzinfo=UTC)))
    keys = [result.key for result in results]
    assert sorted(keys) == sorted([str(row[0]) for row in rows] + [str(2**31 - 1)])
    for result in results:
        assert isinstance(result, Customer | SourceProblem)
        if isinstance(result, SourceProblem):
            assert result.entity == "customers" and result.message
    assert isinstance(results[-1], Customer) and results[-1].name == "Good Row Ltd"
    assert since_results[-1].key == str(2**31 - 1)


@PROPERTY_SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=999_999), odd_text, odd_text, small_int, day_text, odd_decimal
        ),
        max_size=10,
        unique_by=lambda row: row[0],
    )
)
def test_sage50ca_odd_items_become_records_or_problems(rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "simply.sqlite"
        connection = sqlite3.connect(path)
        ca_standin.create_tables(connection)
        ca_standin.insert_rows(
            connection,
            "tinvent",
            "lId, sPartCode, sName, bService, dtASDate, tmASTime",
            [(*row[:5], "12:00:00") for row in rows] + [(1_000_000, "GOOD", "Good item", 1, None, None)],
        )
        ca_standin.insert_rows(
            connection,
            "tinvprc",
            "lInventId, lPrcListId, lCurrncyId, dPrice",
            [(row[0], 1, 0, row[5]) for row in rows] + [(1_000_000, 1, 0, "19.99")],
        )
        connection.close()
        with _sage_connector(f"Driver=SQLite3;Database={path}") as connector:
            results = list(connector.read("items"))
    assert sorted(result.key for result in results) == sorted([str(row[0]) for row in rows] + ["1000000"])
    good = results[-1]
    assert isinstance(good, Item) and str(good.price) == "19.99"
    for result in results:
        if isinstance(result, Item):
            assert result.price.as_tuple().exponent == -2


def _offset_text(moment: datetime, offset_minutes: int) -> str:
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{minutes:02d}"


time_modified = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.builds(
        _offset_text,
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
        st.integers(min_value=-12 * 60, max_value=14 * 60),
    ),
)


@PROPERTY_SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.text(alphabet="ABCDEF0123456789-", min_size=1, max_size=12),
            time_modified,
            odd_text,
            day_text,
            odd_decimal,
            odd_decimal,
            odd_decimal,
            odd_decimal,
        ),
        max_size=10,
        unique_by=lambda row: row[0],
    ),
    since=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
)
def test_quickbooks_odd_invoices_become_records_or_problems(rows, since):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "company.sqlite"
        connection_string = qb_standin.build_quickbooks_company(path)
        connection = sqlite3.connect(path)
        connection.execute("DELETE FROM Invoice")
        connection.execute("DELETE FROM InvoiceLine")
        connection.execute("DELETE FROM ReceivePaymentLine")
        connection.execute("DELETE FROM CreditMemo")  # the invoices stream also reads credit memos
        invoices = [
            (f"T-{txn}", modified, "80000001-1", day, ref, subtotal, tax, balance)
            for txn, modified, ref, day, subtotal, tax, balance, _ in rows
        ]
        invoices.append(("zz-good", None, "80000001-1", "2024-01-01", "GOOD", "10", "0.5", "10.5"))
        connection.executemany(
            "INSERT INTO Invoice (TxnID, TimeModified, CustomerRefListID, TxnDate, RefNumber, Subtotal, "
            "SalesTaxTotal, BalanceRemaining) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            invoices,
        )
        connection.executemany(
            "INSERT INTO InvoiceLine (TxnID, InvoiceLineSeqNo, InvoiceLineDesc, InvoiceLineQuantity, "
            "InvoiceLineRate, InvoiceLineAmount, InvoiceLineTaxAmount) VALUES (?, 1, ?, ?, ?, ?, ?)",
            [(f"T-{row[0]}", row[2], row[7], row[7], row[4], row[5]) for row in rows],
        )
        connection.executemany(
            "INSERT INTO ReceivePaymentLine (TxnID, TimeModified, TxnDate, AppliedToTxnTxnID, "
            "AppliedToTxnPaymentAmount) VALUES (?, ?, ?, ?, ?)",
            [(f"P-{row[0]}", row[1], row[3], f"T-{row[0]}", row[6]) for row in rows],
        )
        connection.commit()
        connection.close()
        connector = QuickBooksConnector(
            lambda: pyodbc.connect(connection_string), local_zone=UTC, page_size=3
        )
        with connector:
            results = list(connector.read("invoices", since))
    keys = [result.key for result in results]
    assert len(keys) == len(set(keys))
    assert set(keys) <= {f"T-{row[0]}" for row in rows} | {"zz-good"}
    if since is None:
        assert len(keys) == len(rows) + 1
    for result in results:
        assert isinstance(result, Invoice | SourceProblem)
        if isinstance(result, SourceProblem):
            assert result.entity == "invoices" and result.key and result.message
        else:
            assert since is None or result.modified is None or result.modified >= since
    good = results[-1]
    assert isinstance(good, Invoice) and good.key == "zz-good" and str(good.gross) == "10.50"
