"""Generic ODBC connector: user SELECTs + column maps, read through real unixODBC + the SQLite3 driver."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pyodbc
import pytest

from connectors.generic import GenericODBCConnector
from connectors.registry import SourceConfig, configure_odbc_connection, create_connector
from connectors.unchanged import KnownRows, Unchanged
from core.errors import ConfigError
from core.records import Customer, Invoice, Item, SourceProblem, TaxRate
from tests.fixtures_odbc import build_sqlite_odbc

ZONE = ZoneInfo("Europe/Paris")

SCRIPT = """
CREATE TABLE vat (code TEXT, label TEXT, pct REAL);
INSERT INTO vat VALUES ('S', 'Standard', 20.0), ('Z', 'Zero', 0.0), ('R', 'Reduced', 5.5);
CREATE TABLE clients (id INTEGER PRIMARY KEY, company TEXT, mail TEXT, town TEXT, vat TEXT, off INTEGER,
                      changed TIMESTAMP);
INSERT INTO clients VALUES
  (1, 'Ferme du Château', 'compta@chateau.example', 'Lyon', 'S', 0, '2024-02-01 10:00:00.000'),
  (2, 'O''Malley Ltd', NULL, NULL, NULL, 1, '2024-02-02 10:00:00.000'),
  (3, NULL, 'nobody@example', NULL, NULL, 0, '2024-02-03 10:00:00.000'),
  (4, 'Zürich 😀 AG', NULL, 'Zürich', 'Z', 0, NULL),
  (5, 'Last One', NULL, NULL, 'S', 0, '2024-02-05 10:00:00.000');
CREATE TABLE products (sku TEXT, title TEXT, unit_price REAL, vat TEXT, changed TIMESTAMP);
INSERT INTO products VALUES ('P1', 'Paper A4', 4.99, 'S', '2024-02-01 10:00:00.000'),
                            ('P2', 'Toner', 59.9, 'S', '2024-02-01 10:00:00.000');
CREATE TABLE bills (no INTEGER, client INTEGER, issued TIMESTAMP, total REAL, vat_total REAL, paid REAL,
                    balance REAL, credit INTEGER, changed TIMESTAMP);
INSERT INTO bills VALUES
  (7001, 1, '2024-03-01 00:00:00.000', 12.0, 2.0, 12.0, 0.0, 0, '2024-03-01 12:00:00.000'),
  (7002, 5, '2024-03-02 00:00:00.000', 6.0, 1.0, 0.0, 6.0, 1, '2024-03-02 12:00:00.000'),
  (7003, NULL, '2024-03-03 00:00:00.000', 1.0, 0.0, 0.0, 1.0, 0, '2024-03-03 12:00:00.000');
CREATE TABLE bill_lines (bill INTEGER, pos INTEGER, sku TEXT, txt TEXT, qty REAL, net REAL, vat REAL);
INSERT INTO bill_lines VALUES (7001, 2, 'P2', 'Toner', 1, 5.0, 1.0), (7001, 1, 'P1', 'Paper', 1, 5.0, 1.0),
                              (7002, 1, NULL, 'Refund', 1, 5.0, 1.0);
"""

QUERIES = {
    "tax_rates": "SELECT code, label, pct FROM vat",
    "customers": "SELECT id, company, mail, town, vat, off, changed FROM clients;",
    "items": "SELECT * FROM products",
    "invoices": "SELECT no, client, issued, total, vat_total, paid, balance, credit, changed FROM bills",
    "invoice_lines": "SELECT bill, pos, sku, txt, qty, net, vat FROM bill_lines",
}
COLUMNS = {
    "tax_rates": {"key": "code", "name": "label", "rate": "PCT"},
    "customers": {
        "key": "ID",
        "name": "company",
        "email": "mail",
        "city": "town",
        "tax_code": "vat",
        "inactive": "off",
        "modified": "changed",
    },
    "items": {"key": "sku", "name": "title", "price": "unit_price", "tax_code": "vat", "modified": "changed"},
    "invoices": {
        "key": "no",
        "customer_key": "client",
        "date": "issued",
        "gross": "total",
        "tax": "vat_total",
        "amount_paid": "paid",
        "outstanding": "balance",
        "is_credit": "credit",
        "modified": "changed",
    },
    "invoice_lines": {
        "invoice_key": "bill",
        "number": "pos",
        "item_key": "sku",
        "description": "txt",
        "quantity": "qty",
        "net": "net",
        "tax": "vat",
    },
}


@pytest.fixture
def source(tmp_path):
    return build_sqlite_odbc(tmp_path / "books.sqlite", SCRIPT)


def connector(connection_string, queries=None, columns=None, page_size=2):
    return GenericODBCConnector(
        lambda: configure_odbc_connection(pyodbc.connect(connection_string, autocommit=True)),
        queries=QUERIES if queries is None else queries,
        columns=COLUMNS if columns is None else columns,
        local_zone=ZONE,
        page_size=page_size,
    )


def test_every_stream_reads_with_the_mapping(source):
    with connector(source) as odbc:
        assert [spec.name for spec in odbc.streams()] == ["tax_rates", "customers", "items", "invoices"]
        rates = {r.key: r for r in odbc.read("tax_rates")}
        assert all(isinstance(r, TaxRate) for r in rates.values())
        assert rates["R"].rate == Decimal("5.5000") and rates["S"].name == "Standard"

        customers = list(odbc.read("customers"))
        problems = [c for c in customers if isinstance(c, SourceProblem)]
        good = {c.key: c for c in customers if isinstance(c, Customer)}
        assert [p.key for p in problems] == ["3"] and "has no name" in problems[0].message
        assert set(good) == {"1", "2", "4", "5"}  # the row after the bad one still comes
        assert good["1"].name == "Ferme du Château" and good["1"].address.city == "Lyon"
        assert good["1"].modified == datetime(2024, 2, 1, 10, tzinfo=ZONE)
        assert good["2"].name == "O'Malley Ltd" and good["2"].active is False
        assert good["4"].name == "Zürich 😀 AG" and good["4"].modified is None

        items = {i.key: i for i in odbc.read("items") if isinstance(i, Item)}
        assert items["P1"].price == Decimal("4.99") and items["P2"].price == Decimal("59.90")

        records = list(odbc.read("invoices"))
        invoices = {i.key: i for i in records if isinstance(i, Invoice)}
        assert [p.key for p in records if isinstance(p, SourceProblem)] == ["7003"]
        first = invoices["7001"]
        assert [line.number for line in first.lines] == [1, 2]
        assert [line.item_key for line in first.lines] == ["P1", "P2"]
        assert (first.gross, first.tax, first.net) == (Decimal("12.00"), Decimal("2.00"), Decimal("10.00"))
        assert first.is_paid and first.amount_paid == Decimal("12.00")
        assert first.date == datetime(2024, 3, 1, tzinfo=ZONE)
        assert invoices["7002"].is_credit and invoices["7002"].lines[0].description == "Refund"
        assert invoices["7002"].lines[0].item_key == ""


def test_incremental_read_wraps_the_select(source, tmp_path):
    cursor = datetime(2024, 2, 3, 10, tzinfo=ZONE)
    with connector(source) as odbc:
        assert {c.key for c in odbc.read("customers", since=cursor)} == {"3", "4", "5"}  # 4 has no date
        connection = sqlite3.connect(tmp_path / "books.sqlite")
        with connection:
            connection.execute(
                "UPDATE clients SET company = 'Renamed', changed = '2024-04-01 08:00:00.000' WHERE id = 2"
            )
        connection.close()
        changed = {c.key: c for c in odbc.read("customers", since=cursor)}
        assert set(changed) == {"2", "3", "4", "5"} and changed["2"].name == "Renamed"
        # tax_rates has no modified mapping: always a full read
        assert len(list(odbc.read("tax_rates", since=cursor))) == 3


def test_missing_required_mapping_is_refused_before_any_sync(source):
    columns = {**COLUMNS, "customers": {"key": "id"}}
    odbc = connector(source, columns=columns)
    with pytest.raises(ConfigError) as caught:
        odbc.check_mapping()
    assert "customers" in caught.value.message and "'name'" in caught.value.message
    with pytest.raises(ConfigError, match="required field 'name'"):
        list(odbc.read("tax_rates"))  # reading anything validates the whole mapping first
    check = odbc.test_connection()
    assert not check.ok and "'name'" in check.message


def test_mapped_column_the_select_does_not_return(source):
    columns = {**COLUMNS, "customers": {**COLUMNS["customers"], "email": "email_address"}}
    with connector(source, columns=columns) as odbc, pytest.raises(ConfigError) as caught:
        odbc.validate()
    error = caught.value
    assert "'email_address'" in error.message and "'email'" in error.message and "customers" in error.message
    assert "company" in error.action  # lists what the SELECT does return


def test_unknown_field_and_lines_without_invoices(source):
    with pytest.raises(ConfigError, match="unknown field 'colour'"):
        connector(
            source, columns={**COLUMNS, "items": {**COLUMNS["items"], "colour": "title"}}
        ).check_mapping()
    queries = {"customers": QUERIES["customers"], "invoice_lines": QUERIES["invoice_lines"]}
    with pytest.raises(ConfigError, match="without an invoices query"):
        connector(source, queries=queries).check_mapping()
    with pytest.raises(ConfigError, match="No SELECT"):
        connector(source, queries={}).check_mapping()


def test_select_on_a_missing_table_says_check_the_select(source):
    queries = {**QUERIES, "items": "SELECT * FROM no_such_table"}
    check = connector(source, queries=queries).test_connection()
    assert not check.ok
    assert "does not have the table or column" in check.message and "SELECT" in check.action


def test_connection_ok_counts_rows(source):
    check = connector(source).test_connection()
    assert check.ok, check
    assert "5 customers" in check.detail and "3 invoices" in check.detail


def test_created_through_the_registry(source):
    settings = SourceConfig(kind="odbc", connection_string=source, queries=QUERIES, columns=COLUMNS)
    with create_connector(settings, None, page_size=1) as odbc:
        assert isinstance(odbc, GenericODBCConnector)
        assert len([c for c in odbc.read("customers") if isinstance(c, Customer)]) == 4


def retitle_a_line(books_file: Path) -> None:
    """Change one line of invoice 7001 and nothing else (its invoice row keeps its cells and date)."""
    books = sqlite3.connect(books_file)
    try:
        books.execute("UPDATE bill_lines SET txt = 'Toner (black)' WHERE bill = 7001 AND pos = 2")
        books.commit()
    finally:
        books.close()


def _known_from_a_first_read(odbc: GenericODBCConnector, stream: str) -> tuple[dict[str, str], list]:
    """The digests a first read notes for ``stream``'s rows (what the engine keeps once they are in step)."""
    first = KnownRows(stream, b"salt", lambda keys: {})
    records = list(odbc.read_skipping(stream, None, first))
    return dict(first.noted), records


def test_rows_known_unchanged_are_not_converted_and_an_invoice_whose_line_changed_is(source, tmp_path):
    with connector(source) as odbc:
        noted, first = _known_from_a_first_read(odbc, "invoices")
    assert [r.key for r in first if isinstance(r, Invoice)] == ["7001", "7002"]
    # The engine keeps the digests of records in step: here both invoices, never the row it could not read.
    digests = {key: noted[key] for key in ("7001", "7002")}
    known = KnownRows("invoices", b"salt", lambda keys: {k: digests[k] for k in keys if k in digests})
    with connector(source) as odbc:
        again = list(odbc.read_skipping("invoices", None, known))
    assert {r.key for r in again if isinstance(r, Unchanged)} == {"7001", "7002"}
    assert [r.key for r in again if isinstance(r, SourceProblem)] == ["7003"]

    # Only a line changes: its invoice's own row is as it was, the digest covers its lines too.
    retitle_a_line(tmp_path / "books.sqlite")
    known = KnownRows("invoices", b"salt", lambda keys: {k: digests[k] for k in keys if k in digests})
    with connector(source) as odbc:
        changed = list(odbc.read_skipping("invoices", None, known))
    assert {r.key for r in changed if isinstance(r, Unchanged)} == {"7002"}
    invoice = next(r for r in changed if isinstance(r, Invoice) and r.key == "7001")
    assert [line.description for line in invoice.lines] == ["Paper", "Toner (black)"]


def test_a_query_returning_its_columns_in_another_order_changes_the_conversion_context(source):
    with connector(source) as odbc:
        before = odbc.conversion_context()
    reordered = {**QUERIES, "items": "SELECT vat, changed, unit_price, title, sku FROM products"}
    with connector(source, queries=reordered) as odbc:
        assert odbc.conversion_context() != before
