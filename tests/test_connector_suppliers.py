"""Suppliers from every package, through real unixODBC over the stand-ins' published table layouts.

Sage 50 UK PURCHASE_LEDGER, Sage 50 Canada tvendor, QuickBooks (QODBC) Vendor, and a generic ODBC query with
its column map: each read as its stream's declaration says (table, key, replication key), the deleted and
inactive rows marked, a row without a name a problem that names its key, and ``since`` honoured.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyodbc
import pytest

from connectors.base import Connector
from connectors.generic import GenericODBCConnector
from connectors.quickbooks import QuickBooksConnector
from connectors.registry import configure_odbc_connection
from connectors.sage50ca import Sage50CAConnector
from core.records import SourceProblem, Supplier
from sync.doctor import run_doctor
from tests.fixtures_odbc import build_sqlite_odbc, sqlite_odbc_connection_string
from tests.standins import quickbooks as qb_standin
from tests.standins import sage50ca as ca_standin
from tests.standins.sage50uk import BASE, build_company
from tests.test_connector_sage50uk import odbc_connector

LONDON = ZoneInfo("Europe/London")
TORONTO = ZoneInfo("America/Toronto")


def _split(records):
    suppliers = {r.key: r for r in records if isinstance(r, Supplier)}
    problems = {r.key: r for r in records if isinstance(r, SourceProblem)}
    return suppliers, problems


def test_sage50uk_reads_the_purchase_ledger(sage50uk_connector):
    spec = sage50uk_connector.stream("suppliers")
    assert (spec.table, spec.key, spec.replication_key) == (
        "PURCHASE_LEDGER",
        "ACCOUNT_REF",
        "RECORD_MODIFY_DATE",
    )
    suppliers, problems = _split(list(sage50uk_connector.read("suppliers")))
    assert set(suppliers) == {"CON001", "OLDSUP", "GONE01", "LATE01"}
    concept = suppliers["CON001"]
    assert concept.name == "Concept Stationery Supplies" and concept.contact_name == "Mark Ramsay"
    assert concept.address.lines == ("66 New Street", "Ridgeway") and concept.address.postcode == "NE1 4GF"
    assert concept.address.city == "Newcastle upon Tyne" and concept.address.country == "GB"
    assert concept.tax_code == "T1" and concept.tax_number == "GB988 3453 23"
    assert concept.email == "orders@concept.example" and concept.website == "www.concept.example"
    assert concept.modified == BASE.replace(tzinfo=LONDON) and concept.active and not concept.deleted
    assert not suppliers["OLDSUP"].active and suppliers["GONE01"].deleted
    assert "NONAME" in problems and "has no name" in problems["NONAME"].message
    later = list(sage50uk_connector.read("suppliers", (BASE + timedelta(days=1)).replace(tzinfo=LONDON)))
    assert [r.key for r in later] == ["LATE01"]


def test_sage50ca_reads_the_vendor_table(tmp_path):
    read_with = ca_standin.build_sqlite_company(tmp_path / "simply.sqlite")
    with Sage50CAConnector(lambda: pyodbc.connect(read_with), local_zone=TORONTO, page_size=2) as connector:
        assert connector.stream("suppliers").table == "tvendor"
        suppliers, problems = _split(list(connector.read("suppliers")))
        assert set(suppliers) == {"1", "2", "3"}
        first = suppliers["1"]
        assert first.name == "Fournitures Québec Inc." and first.contact_name == "Élise Tremblay"
        assert first.address.city == "Québec" and first.address.region == "QC" and first.tax_code == "2"
        assert first.modified == datetime(2024, 3, 1, 10, 0, tzinfo=TORONTO)
        assert not suppliers["2"].active and suppliers["3"].modified is None
        assert "4" in problems and "has no name" in problems["4"].message
        later = {r.key for r in connector.read("suppliers", datetime(2024, 3, 2, tzinfo=TORONTO))}
        assert later == {"3"}  # never stamped: always read


def test_quickbooks_reads_the_vendor_table(tmp_path):
    read_with = qb_standin.build_quickbooks_company(tmp_path / "company.sqlite")
    with QuickBooksConnector(lambda: pyodbc.connect(read_with), page_size=2) as connector:
        assert connector.stream("suppliers").table == "Vendor"
        suppliers, problems = _split(list(connector.read("suppliers")))
        assert set(suppliers) == {"90000001-1", "90000002-1", "90000003-1"}
        first = suppliers["90000001-1"]
        assert first.name == "Müller Büromaterial" and first.contact_name == "Jürgen Müller"
        assert first.address.lines == ("Königstraße 1",) and first.address.postcode == "70173"
        assert first.email == "info@mueller.example" and first.phone == "+49 711 555 0100"
        assert first.modified == datetime(2024, 3, 1, 18, 0, tzinfo=UTC)
        assert not suppliers["90000002-1"].active and suppliers["90000003-1"].active  # NULL IsActive: active
        assert "90000004-1" in problems and "has no name" in problems["90000004-1"].message
        later = {r.key for r in connector.read("suppliers", datetime(2024, 3, 1, 18, 10, tzinfo=UTC))}
        assert later == {"90000002-1", "90000003-1", "90000004-1"}  # 18:15 and 18:30 UTC, undated


def test_generic_odbc_reads_a_suppliers_query(tmp_path):
    connection_string = build_sqlite_odbc(
        tmp_path / "books.sqlite",
        """
        CREATE TABLE vendors (ref TEXT, title TEXT, mail TEXT, town TEXT, gone INTEGER, changed TIMESTAMP);
        INSERT INTO vendors VALUES ('V1', 'Papeterie Lumière', 'a@lumiere.example', 'Lyon', 0,
                                    '2024-02-01 10:00:00.000'),
                                   ('V2', NULL, NULL, NULL, 0, '2024-02-02 10:00:00.000'),
                                   ('V3', 'Closed Ltd', NULL, NULL, 1, '2024-02-03 10:00:00.000');
        """,
    )
    connector = GenericODBCConnector(
        lambda: configure_odbc_connection(pyodbc.connect(connection_string, autocommit=True)),
        queries={"suppliers": "SELECT ref, title, mail, town, gone, changed FROM vendors"},
        columns={
            "suppliers": {
                "key": "ref",
                "name": "title",
                "email": "mail",
                "city": "town",
                "deleted": "gone",
                "modified": "changed",
            }
        },
        local_zone=ZoneInfo("Europe/Paris"),
        page_size=1,
    )
    with connector:
        assert [spec.name for spec in connector.streams()] == ["suppliers"]
        suppliers, problems = _split(list(connector.read("suppliers")))
        assert set(suppliers) == {"V1", "V3"} and suppliers["V3"].deleted
        assert suppliers["V1"].name == "Papeterie Lumière" and suppliers["V1"].address.city == "Lyon"
        assert "V2" in problems and "has no name" in problems["V2"].message
        later = list(connector.read("suppliers", datetime(2024, 2, 2, 12, tzinfo=ZoneInfo("Europe/Paris"))))
        assert [r.key for r in later] == ["V3"]


def _sage50uk(path: Path) -> tuple[str, Callable[[str], Connector]]:
    build_company(path)
    return sqlite_odbc_connection_string(path), odbc_connector


def _sage50ca(path: Path) -> tuple[str, Callable[[str], Connector]]:
    return ca_standin.build_sqlite_company(path), lambda cs: Sage50CAConnector(lambda: pyodbc.connect(cs))


def _quickbooks(path: Path) -> tuple[str, Callable[[str], Connector]]:
    return qb_standin.build_quickbooks_company(path), lambda cs: QuickBooksConnector(
        lambda: pyodbc.connect(cs)
    )


@pytest.mark.parametrize(
    ("build", "table", "column", "rows"),
    [
        (_sage50uk, "PURCHASE_LEDGER", "VAT_REG_NUMBER", 5),
        (_sage50ca, "tvendor", "sCntcName", 4),
        (_quickbooks, "Vendor", "VendorAddressCity", 4),
    ],
)
def test_the_doctor_probes_each_supplier_table(tmp_path, build, table, column, rows):
    path = tmp_path / "company.sqlite"
    connection_string, make = build(path)
    report = run_doctor(lambda: make(connection_string), None)
    assert report.ok, report.to_text()
    assert {use.table: use for use in report.tables}[table].rows == rows
    with sqlite3.connect(path) as db:
        db.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    report = run_doctor(lambda: make(connection_string), None)
    missing = [item for item in report.findings if item.subject == f"{table}.{column}"]
    assert missing and missing[0].severity == "problem", report.to_text()
    assert "suppliers cannot be read" in missing[0].consequence
