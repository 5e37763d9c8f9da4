"""Sage 50 UK as its published schema lays it out (Zynk's INVOICE, INVOICE_ITEM, AUDIT_HEADER, AUDIT_USAGE,
CURRENCY and TAX_CODE column lists, docs/connectors.md), read through real unixODBC on the stand-in company.

Each test names the point of issue 12 it proves: carriage adds up, a euro invoice arrives in euros, another
customer's ledger entry with the same reference does not pay an invoice, VAT_INCLUDE is not "prices include
tax", ISP_REFERENCE is compared as the INTEGER it is, and only reserved words are quoted.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from connectors.sage50uk import Sage50UKConnector
from connectors.sql import name
from core.records import Invoice, SourceProblem, TaxRate
from halo.payloads import invoice_payload
from tests.standins.sage50uk import FOREIGN_REFERENCE_ENTRY, invoice_spec


def invoices(connector: Sage50UKConnector) -> dict[str, Invoice | SourceProblem]:
    return {record.key: record for record in connector.read("invoices")}


def test_carriage_is_a_line_and_the_lines_add_up_to_the_gross(sage50uk_connector):
    invoice = invoices(sage50uk_connector)["1011"]
    assert isinstance(invoice, Invoice)
    carriage = [line for line in invoice.lines if line.kind == "carriage"]
    assert len(carriage) == 1
    assert (carriage[0].net, carriage[0].tax) == (Decimal("12.50"), Decimal("2.50"))
    assert carriage[0].nominal_code == "4905" and carriage[0].tax_code == "T1"
    assert sum(line.net for line in invoice.lines) == invoice.net == Decimal("112.45")
    assert sum(line.net + line.tax for line in invoice.lines) == invoice.gross == Decimal("134.94")


def test_invoices_without_carriage_have_no_carriage_line(sage50uk_connector):
    found = invoices(sage50uk_connector)
    for key in ("1001", "1002", "1006"):
        record = found[key]
        assert isinstance(record, Invoice)
        assert all(line.kind != "carriage" for line in record.lines)
        assert sum(line.net + line.tax for line in record.lines) == record.gross


def test_a_euro_invoice_arrives_in_euros(sage50uk_connector):
    invoice = invoices(sage50uk_connector)["1012"]
    spec = invoice_spec(1012)
    assert isinstance(invoice, Invoice)
    assert invoice.currency == "EUR" and invoice.exchange_rate == Decimal("1.160000")
    assert invoice.gross == Decimal(str(spec.gross)) == Decimal("243.60")  # euros, not 210.00 pounds
    assert [line.net for line in invoice.lines] == [Decimal("232.00"), Decimal("11.60")]
    assert sum(line.net + line.tax for line in invoice.lines) == invoice.gross
    assert [payment.amount for payment in invoice.payments] == [Decimal("116.00")]  # 100 pounds in euros
    assert invoice.amount_paid == Decimal("116.00") and invoice.outstanding == Decimal("127.60")
    payload = invoice_payload(invoice, client_id=1, lines=[])
    assert payload["currency"] == "EUR" and payload["total"] == 243.6


def test_a_base_currency_invoice_carries_no_currency(sage50uk_connector):
    invoice = invoices(sage50uk_connector)["1001"]
    assert isinstance(invoice, Invoice) and invoice.currency == "" and invoice.exchange_rate is None
    assert "currency" not in invoice_payload(invoice, client_id=1, lines=[])


def test_a_foreign_invoice_without_its_foreign_amounts_is_a_problem_not_pounds(sage50uk_company):
    with sqlite3.connect(sage50uk_company.path) as db:
        db.execute("UPDATE INVOICE SET FOREIGN_INVOICE_GROSS = NULL WHERE INVOICE_NUMBER = 1012")
    connector = _connector(sage50uk_company.connection_string)
    try:
        problem = invoices(connector)["1012"]
    finally:
        connector.close()
    assert isinstance(problem, SourceProblem)
    assert "gross total in the document's currency is empty" in problem.message


def test_an_unknown_currency_number_is_a_problem(sage50uk_company):
    with sqlite3.connect(sage50uk_company.path) as db:
        db.execute("UPDATE INVOICE SET CURRENCY = 9 WHERE INVOICE_NUMBER = 1012")
    connector = _connector(sage50uk_company.connection_string)
    try:
        found = invoices(connector)
    finally:
        connector.close()
    assert isinstance(found["1012"], SourceProblem) and "currency list" in found["1012"].message
    assert isinstance(found["1011"], Invoice)  # the rest goes on


def test_another_customers_entry_with_the_same_reference_does_not_pay_the_invoice(sage50uk_connector):
    assert FOREIGN_REFERENCE_ENTRY["reference"] == 1002 and FOREIGN_REFERENCE_ENTRY["account_ref"] == "ZED"
    invoice = invoices(sage50uk_connector)["1002"]
    assert isinstance(invoice, Invoice) and invoice.customer_key == "OBRIEN"
    # Its own ledger entry: 105.00 gross, 50.00 received. ZED's paid-in-full "1002" must not count.
    assert invoice.amount_paid == Decimal("50.00")
    assert invoice.outstanding == Decimal("55.00")
    assert [payment.reference for payment in invoice.payments] == ["Cheque 000123"]


def test_isp_reference_alone_links_the_ledger_entry(sage50uk_company):
    """A header whose INV_REF was typed differently still links through the INTEGER ISP_REFERENCE."""
    with sqlite3.connect(sage50uk_company.path) as db:
        db.execute("UPDATE AUDIT_HEADER SET INV_REF = 'Inv one-zero-zero-one' WHERE ISP_REFERENCE = 1001")
        (kind,) = db.execute(
            "SELECT typeof(ISP_REFERENCE) FROM AUDIT_HEADER WHERE ISP_REFERENCE = 1001"
        ).fetchone()
    assert kind == "integer"
    connector = _connector(sage50uk_company.connection_string)
    try:
        invoice = invoices(connector)["1001"]
    finally:
        connector.close()
    assert isinstance(invoice, Invoice) and invoice.is_paid and len(invoice.payments) == 1


def test_vat_include_is_not_read_as_prices_include_tax(sage50uk_connector):
    rates = [record for record in sage50uk_connector.read("tax_rates") if isinstance(record, TaxRate)]
    assert rates and not any(rate.inclusive for rate in rates)  # the stand-in has VAT_INCLUDE = 1 on all


@pytest.mark.parametrize(
    ("identifier", "spelled"),
    [("INVOICE_NUMBER", "INVOICE_NUMBER"), ("TYPE", '"TYPE"'), ("DATE", '"DATE"'), ("TEXT", '"TEXT"')],
)
def test_only_reserved_words_are_quoted(identifier, spelled):
    assert name(identifier) == spelled


def _connector(connection_string: str) -> Sage50UKConnector:
    from tests.test_connector_sage50uk import odbc_connector

    return odbc_connector(connection_string)


def test_incremental_reads_write_dates_as_literals_like_public_sage_queries(sage50uk_company, monkeypatch):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import connectors.base as base

    seen: list[tuple[str, tuple]] = []
    real_rows, real_values = base.iter_rows, base.iter_values

    def recording(connection, sql, params=(), **kwargs):
        seen.append((sql, tuple(params)))
        return real_rows(connection, sql, params, **kwargs)

    def recording_values(connection, sql, columns, params=(), **kwargs):
        seen.append((sql, tuple(params)))
        return real_values(connection, sql, columns, params, **kwargs)

    monkeypatch.setattr(base, "iter_rows", recording)  # the statements read as dicts
    monkeypatch.setattr(base, "iter_values", recording_values)  # and those read as values (invoices)
    connector = _connector(sage50uk_company.connection_string)
    try:
        since = datetime(2024, 5, 3, 9, 0, tzinfo=ZoneInfo("Europe/London"))
        found = {record.key for record in connector.read("invoices", since)}
    finally:
        connector.close()
    assert "1010" in found  # no modified date: always read
    dated = [(sql, params) for sql, params in seen if "RECORD_MODIFY_DATE >=" in sql]
    assert dated and all("{ts '2024-05-03 09:00:00.000'}" in sql for sql, _ in dated)
    assert not any(isinstance(value, datetime) for _, params in seen for value in params)
    assert all('"RECORD_MODIFY_DATE"' not in sql and "INVOICE_NUMBER" in sql for sql, _ in seen[:1])
