"""``ledgerbridge doctor`` on the stand-in companies (real unixODBC) and the real HTTP Halo sandbox.

Each stand-in with one column (or table) dropped: the report names it and says what LedgerBridge does
without it. Halo's list rows are partial objects (the sandbox leaves out fields a record does not have), so
a list without the field we match on is reported with its consequence, and a list with it is not.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyodbc
import pytest

from connectors.quickbooks import QuickBooksConnector
from connectors.sage50ca import Sage50CAConnector
from sync.doctor import DoctorReport, probe_halo, run_doctor
from tests.standins import quickbooks as qb_standin
from tests.standins import sage50ca as ca_standin
from tests.test_connector_sage50uk import odbc_connector


def drop(path: Path, table: str, column: str | None = None) -> None:
    with sqlite3.connect(path) as db:
        if column is None:
            db.execute(f'DROP TABLE "{table}"')
        else:
            db.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')


def finding(report: DoctorReport, subject: str):
    found = [item for item in report.findings if item.subject == subject]
    assert found, [item.subject for item in report.findings]
    return found[0]


def test_intact_sage50uk_stand_in_is_healthy(sage50uk_company):
    report = run_doctor(lambda: odbc_connector(sage50uk_company.connection_string), None)
    assert report.ok, report.to_text()
    assert "sqlite3odbc" in report.driver["Driver"]
    tables = {table.table: table for table in report.tables}
    assert tables["INVOICE"].rows == 12 and tables["SALES_LEDGER"].rows == 11
    assert tables["INVOICE"].types["INVOICE_GROSS"] == "float"  # DOUBLE money, as Sage's driver has it
    assert report.facts["Invoices in another currency"] == "1"
    assert "No problems found." in report.to_text()


def test_sage50uk_without_carriage_column_names_it_and_the_consequence(sage50uk_company):
    drop(sage50uk_company.path, "INVOICE", "CARR_NET")
    report = run_doctor(lambda: odbc_connector(sage50uk_company.connection_string), None)
    assert not report.ok
    missing = finding(report, "INVOICE.CARR_NET")
    assert missing.severity == "problem" and "missing" in missing.message
    assert "invoices cannot be read" in missing.consequence
    assert "INVOICE.CARR_NET" in report.to_text() and "What LedgerBridge does" in report.to_text()
    assert {table.table: table for table in report.tables}["INVOICE"].missing_columns == ["CARR_NET"]


def test_sage50uk_without_currency_list_is_a_warning_with_what_still_works(sage50uk_company):
    drop(sage50uk_company.path, "CURRENCY")
    report = run_doctor(lambda: odbc_connector(sage50uk_company.connection_string), None)
    missing = finding(report, "CURRENCY")
    assert missing.severity == "warning" and "base currency are read as usual" in missing.consequence
    assert report.ok  # optional: the rest works


def test_quickbooks_without_desc_names_it(tmp_path):
    path = tmp_path / "company.sqlite"
    connection_string = qb_standin.build_quickbooks_company(path)
    drop(path, "SalesTaxCode", "Desc")
    report = run_doctor(lambda: QuickBooksConnector(lambda: pyodbc.connect(connection_string)), None)
    missing = finding(report, "SalesTaxCode.Desc")
    assert missing.severity == "problem" and "tax codes cannot be read" in missing.consequence
    assert report.facts["Credit memos"] == "1"


def test_quickbooks_without_subtotal_items_says_what_happens_to_subtotals(tmp_path):
    path = tmp_path / "company.sqlite"
    connection_string = qb_standin.build_quickbooks_company(path)
    drop(path, "ItemSubtotal")
    report = run_doctor(lambda: QuickBooksConnector(lambda: pyodbc.connect(connection_string)), None)
    missing = finding(report, "ItemSubtotal")
    assert missing.severity == "warning" and "subtotal lines" in missing.consequence


def test_sage50ca_without_a_receivables_column_names_it(tmp_path):
    path = tmp_path / "company.sqlite"
    connection_string = ca_standin.build_sqlite_company(path)
    drop(path, "tcustrdt", "bReversed")
    report = run_doctor(lambda: Sage50CAConnector(lambda: pyodbc.connect(connection_string)), None)
    missing = finding(report, "tcustrdt.bReversed")
    assert missing.severity == "problem" and "invoices cannot be read" in missing.consequence
    assert "list 1, currency 0" in report.facts["Item prices (tinvprc)"]


def test_a_missing_source_is_one_clear_problem(tmp_path):
    missing = tmp_path / "nowhere.sqlite"
    report = run_doctor(lambda: odbc_connector(f"Driver=SQLite3;Database={missing};NoCreat=1"), None)
    assert not report.ok
    assert report.findings[0].subject == "Connection" and report.findings[0].action


@pytest.mark.parametrize("with_key", [True, False])
def test_halo_list_rows_without_a_match_field_are_reported(halo_sandbox, make_halo_client, with_key):
    record = {"name": "Seeded Ltd", **({"accountsid": "ACME01"} if with_key else {})}
    halo_sandbox.seed("Client", record)
    report = DoctorReport()
    probe_halo(make_halo_client(halo_sandbox), report)
    client = next(probe for probe in report.halo if probe.resource == "Client")
    assert client.answers and client.rows_seen == 1
    subjects = {item.subject for item in report.findings}
    assert ("Halo Client.accountsid" in subjects) is not with_key
    assert "main_site_id" in client.fields_present
    empty = next(item for item in report.findings if item.subject == "Halo Invoice list")
    assert "visibility" in empty.action  # an empty list: permissions, not an empty Halo


def test_halo_that_refuses_the_secret_is_one_problem(halo_sandbox, make_halo_client):
    report = DoctorReport()
    probe_halo(make_halo_client(halo_sandbox, secret="wrong-secret-value"), report)
    assert [item.subject for item in report.findings] == ["Halo sign-in"]
    assert not report.ok
