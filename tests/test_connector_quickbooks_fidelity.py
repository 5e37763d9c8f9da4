"""QuickBooks Desktop as QODBC presents it (issue 12), through real unixODBC on the stand-in company.

``SalesTaxCode.Desc`` (a reserved word), credit memos from ``CreditMemo``/``CreditMemoLine``, the line types
of ``InvoiceLine`` (an item group's header and members, a subtotal, a discount, a description-only line) and
the SQL dialect (``{ts '...'}`` literals, no bound datetimes, no ``OR``, no sub-select).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyodbc
import pytest

from connectors.quickbooks import QuickBooksConnector, ts_literal
from core.records import Invoice, TaxRate
from tests.standins import quickbooks as standin

VANCOUVER = ZoneInfo("America/Vancouver")


@pytest.fixture
def connection_string(tmp_path) -> str:
    return standin.build_quickbooks_company(tmp_path / "company.sqlite")


def read_all(connection_string: str, stream: str, since: datetime | None = None) -> dict:
    connector = QuickBooksConnector(
        lambda: pyodbc.connect(connection_string), local_zone=VANCOUVER, page_size=3
    )
    with connector:
        return {record.key: record for record in connector.read(stream, since)}


def test_tax_code_names_come_from_desc(connection_string):
    rates = read_all(connection_string, "tax_rates")
    assert isinstance(rates["STC-G"], TaxRate) and rates["STC-G"].name == "GST only"
    assert rates["STC-E"].name == "Exempt"


def test_a_credit_memo_arrives_as_a_credit_note(connection_string):
    credit = read_all(connection_string, "invoices")["CM1"]
    assert isinstance(credit, Invoice) and credit.is_credit
    assert (credit.number, credit.customer_key) == ("CM-0001", "80000001-1")
    assert (credit.net, credit.tax, credit.gross) == (Decimal("50.00"), Decimal("2.50"), Decimal("52.50"))
    assert [(line.description, line.net) for line in credit.lines] == [("Goodwill: outage", Decimal("50.00"))]
    assert credit.outstanding == Decimal("20.00") and credit.amount_paid == Decimal("32.50")


def test_line_types_group_subtotal_discount_and_text(connection_string):
    invoice = read_all(connection_string, "invoices")["T8"]
    assert isinstance(invoice, Invoice)
    shown = [(line.description, line.kind, line.net) for line in invoice.lines]
    assert shown == [
        ("Firewall", "item", Decimal("800.00")),  # the group's members, not its header as well
        ("Set-up", "item", Decimal("100.00")),
        ("10% loyalty discount", "discount", Decimal("-90.00")),  # negative; the subtotal is not a line
        ("Delivered to site B", "text", Decimal("0.00")),
    ]
    assert sum(line.net for line in invoice.lines) == invoice.net == Decimal("810.00")
    assert sum(line.tax for line in invoice.lines) == invoice.tax == Decimal("40.50")
    discount = invoice.lines[2]
    assert discount.quantity * discount.unit_price == discount.net


def test_a_discount_stored_positive_still_reduces_the_invoice(tmp_path):
    connection_string = standin.build_quickbooks_company(tmp_path / "company.sqlite")
    standin.execute(
        tmp_path / "company.sqlite",
        "UPDATE InvoiceLine SET InvoiceLineAmount = '90', InvoiceLineTaxAmount = '4.5' "
        "WHERE InvoiceLineTxnLineID = 'L8-4'",
    )
    invoice = read_all(connection_string, "invoices")["T8"]
    assert [line.net for line in invoice.lines if line.kind == "discount"] == [Decimal("-90.00")]


def test_a_group_without_member_rows_is_one_line(tmp_path):
    path = tmp_path / "company.sqlite"
    connection_string = standin.build_quickbooks_company(path)
    standin.execute(
        path, "DELETE FROM InvoiceLine WHERE TxnID = 'T8' AND InvoiceLineTxnLineID IN ('L8-1', 'L8-2')"
    )
    invoice = read_all(connection_string, "invoices")["T8"]
    first = invoice.lines[0]
    assert (first.description, first.net) == ("Office bundle", Decimal("900.00"))


def test_incremental_reads_use_ts_literals_without_bound_datetimes_or_or(connection_string, monkeypatch):
    seen: list[tuple[str, tuple]] = []
    import connectors.base as module

    real = module.iter_rows

    def recording(connection, sql, params=(), **kwargs):
        seen.append((sql, tuple(params)))
        return real(connection, sql, params, **kwargs)

    monkeypatch.setattr(module, "iter_rows", recording)
    since = datetime(2024, 3, 1, 18, 0, tzinfo=UTC)
    invoices = read_all(connection_string, "invoices", since)
    assert "T7" in invoices  # no TimeModified: always read
    changed = [(sql, params) for sql, params in seen if "TimeModified" in sql.split(" WHERE ")[-1]]
    assert changed
    for sql, params in changed:
        where = sql.split(" WHERE ", 1)[1]
        assert " OR " not in where.upper() and "SELECT" not in where.upper()
        assert not any(isinstance(value, datetime) for value in params)
    assert any("TimeModified >= {ts '2024-03-01 04:00:00.000'}" in sql for sql, _ in changed)
    assert ts_literal(datetime(2024, 1, 2, 3, 4, 5)) == "{ts '2024-01-02 03:04:05.000'}"
