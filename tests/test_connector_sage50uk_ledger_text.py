"""A Sage 50 UK ledger entry with text we cannot read stops no stream and pins nothing on the wrong invoice.

An invoice's paid state comes from its AUDIT_HEADER entries, found by (ACCOUNT_REF, the invoice number they
name). An entry whose ACCOUNT_REF is in no character set we can decode cannot be told to be this customer's
or another's: the invoice it names is a row problem (read again once the text is retyped), the other invoices
of the page are read as ever. Before, the first such entry stopped the whole invoices stream.

The SQLite ODBC driver repairs bytes that are valid in no character set before pyodbc sees them
(tests/test_connector_sql.py), so it cannot send such text: here the connector's queries are answered with
rows as the tolerant re-read gives them (``UndecodableText`` cells), in place of the driver.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sage50uk import (
    HEADER_COLUMNS,
    INVOICE_COLUMNS,
    LINE_COLUMNS,
    USAGE_COLUMNS,
    Sage50UKConnector,
)
from connectors.sql import UndecodableText
from core.records import Invoice, SourceProblem
from tests.test_connector_sage50uk_columns import SPLIT_COLUMNS, _serving

LONDON = ZoneInfo("Europe/London")
UNREADABLE = UndecodableText("C\ufffd")


def _row(columns: Sequence[str], **cells: Any) -> tuple[Any, ...]:
    return tuple(cells.get(column) for column in columns)


def _invoice(number: int, account: str) -> tuple[Any, ...]:
    return _row(
        INVOICE_COLUMNS,
        INVOICE_NUMBER=number,
        INVOICE_OR_CREDIT="Invoice",
        INVOICE_DATE=datetime(2024, 5, 1),
        ACCOUNT_REF=account,
        INVOICE_NET=100.0,
        INVOICE_TAX=20.0,
        INVOICE_GROSS=120.0,
        POSTED_CODE=1,
        RECORD_DELETED=0,
        RECORD_MODIFY_DATE=datetime(2024, 5, 1, 9),
    )


def _header(number: int, account: str, inv_ref: str, isp: int, outstanding: float) -> tuple[Any, ...]:
    return _row(
        HEADER_COLUMNS,
        HEADER_NUMBER=number,
        TYPE="SI",
        ACCOUNT_REF=account,
        INV_REF=inv_ref,
        ISP_REFERENCE=isp,
        AMOUNT_PAID=120.0 - outstanding,
        OUTSTANDING=outstanding,
        DELETED_FLAG=0,
        RECORD_MODIFY_DATE=datetime(2024, 5, 2, 9),
    )


def _answering(tables: dict[tuple[str, ...], list[tuple[Any, ...]]]) -> Sage50UKConnector:
    """A connector whose queries are answered from ``tables`` (``_serving``); the receipt look-ups of the
    changed-ledger search (``rows`` / ``rows_in``) find none."""
    connector = Sage50UKConnector(lambda: None, local_zone=LONDON)
    _serving(connector, {SPLIT_COLUMNS: [], **tables})

    def no_rows(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return iter([])

    connector.rows = no_rows  # type: ignore[method-assign]
    connector.rows_in = no_rows  # type: ignore[method-assign]
    return connector


def test_an_unreadable_account_on_a_ledger_entry_makes_only_its_invoice_a_problem():
    connector = _answering(
        {
            INVOICE_COLUMNS: [_invoice(1, "C1"), _invoice(2, "C2"), _invoice(3, "C3")],
            LINE_COLUMNS: [],
            HEADER_COLUMNS: [
                _header(11, "C1", "1", 0, 0.0),
                _header(12, UNREADABLE, "2", 0, 120.0),
                _header(13, "C3", "", 3, 20.0),  # found by its ISP_REFERENCE
            ],
            USAGE_COLUMNS: [],
        }
    )
    first, second, third = connector.read("invoices")

    assert isinstance(first, Invoice) and first.outstanding == Decimal("0.00")
    assert isinstance(third, Invoice) and third.outstanding == Decimal("20.00")
    assert isinstance(second, SourceProblem) and second.key == "2"
    assert "its ledger entry (audit trail transaction 12)" in second.message
    assert "not in a character set LedgerBridge can read" in second.message
    assert "retype that text" in second.message


def test_an_unreadable_reference_on_a_ledger_entry_names_no_invoice_and_stops_nothing():
    """INV_REF text we cannot read is not an invoice number (those are digits): the entry is still found
    by its ISP_REFERENCE, in a full read and in the look-up of invoices whose ledger changed."""
    tables = {
        INVOICE_COLUMNS: [_invoice(4, "C4")],
        LINE_COLUMNS: [],
        HEADER_COLUMNS: [_header(14, "C4", UNREADABLE, 4, 60.0)],
        USAGE_COLUMNS: [],
        ("INV_REF", "ISP_REFERENCE"): [(UNREADABLE, 4), (UNREADABLE, 0), ("5", 0)],
    }
    (invoice,) = _answering(tables).read("invoices")
    assert isinstance(invoice, Invoice) and invoice.outstanding == Decimal("60.00")

    changed = _answering(tables)._invoices_changed_in_ledger(datetime(2024, 5, 1, tzinfo=UTC))
    assert changed == {"4", "5"}
