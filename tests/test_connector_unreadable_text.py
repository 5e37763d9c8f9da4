"""Text in no character set we can read, in a key or in a row that groups others, stops no stream.

A value the driver sends in none of UTF-16, UTF-8 and cp1252 comes back from the tolerant re-read as
``UndecodableText``, and ``connectors.common.text`` makes it a row problem. Before, where such a value was
read outside a row's own conversion (a row's key, a child row grouped under its parent, a label for a
message), the error left the page and stopped the whole stream.

The SQLite ODBC driver repairs such bytes before pyodbc sees them (tests/test_connector_sql.py), so it cannot
send them: here the connectors' queries are answered with rows as the tolerant re-read gives them, in place
of the driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.common import readable_text
from connectors.quickbooks import QuickBooksConnector
from connectors.sage50ca import Sage50CAConnector
from connectors.sage50uk import Sage50UKConnector
from connectors.sql import UndecodableText
from core.records import Customer, SourceProblem, TaxRate

LONDON = ZoneInfo("Europe/London")
UNREADABLE = UndecodableText("Caf\ufffd")


def _answering(connector: Any, *answers: list[dict[str, Any]]) -> Any:
    """``connector`` whose queries (``rows``, ``rows_in``) get ``answers`` in turn."""
    queue = list(answers)

    def rows(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return iter(queue.pop(0))

    connector.rows = rows
    connector.rows_in = rows
    return connector


def test_readable_text_is_none_only_for_text_we_cannot_read():
    assert readable_text(UNREADABLE) is None
    assert readable_text(" A1 ") == "A1" and readable_text(None) == "" and readable_text(7) == "7"


def test_a_row_whose_key_cannot_be_read_is_a_problem_and_the_next_row_is_read():
    connector = Sage50UKConnector(lambda: None, local_zone=LONDON)
    spec = connector.stream("customers")

    def convert(row: dict[str, Any], key: str) -> Customer:
        return Customer(key=key, name=row["NAME"])

    rows = [{spec.key: UNREADABLE, "NAME": "Odd"}, {spec.key: "ACME01", "NAME": "Acme"}]
    problem, customer = connector.records(spec, rows, convert, "Customer")

    assert isinstance(problem, SourceProblem) and problem.key == ""
    assert problem.message.startswith("A customer without a key was not read: some of its text")
    assert "retype that text" in problem.message
    assert isinstance(customer, Customer) and customer.key == "ACME01"


def test_a_quickbooks_tax_code_whose_name_cannot_be_read_is_a_problem_and_the_next_is_read():
    connector = _answering(
        QuickBooksConnector(lambda: None, local_zone=LONDON),
        [
            {"ListID": "80000001-1", "Name": UNREADABLE, "IsTaxable": False, "IsActive": True},
            {"ListID": "80000002-1", "Name": "Non", "IsTaxable": False, "IsActive": True},
        ],
    )
    problem, rate = connector.read("tax_rates")

    assert isinstance(problem, SourceProblem) and problem.key == "80000001-1"
    assert problem.message.startswith("QuickBooks sales tax code 80000001-1 was not read: some of its text")
    assert isinstance(rate, TaxRate) and rate.code == "Non"


def test_a_quickbooks_invoice_whose_id_or_number_cannot_be_read_is_a_problem_and_stops_nothing():
    connector = _answering(
        QuickBooksConnector(lambda: None, local_zone=LONDON),
        [{"TxnID": UNREADABLE, "InvoiceLineAmount": 5.0}, {"TxnID": "T2", "InvoiceLineAmount": 7.0}],  # lines
        [{"AppliedToTxnTxnID": UNREADABLE, "TxnID": "P1"}],  # payments
    )
    page = [
        {"TxnID": UNREADABLE, "RefNumber": "1001"},
        {"TxnID": "T2", "RefNumber": UNREADABLE, "CustomerRefListID": None},
    ]
    first, second = connector._document_page(page, None, credit=False)

    assert isinstance(first, SourceProblem) and first.key == ""
    assert first.message.startswith("An invoice '1001' without a key was not read: some of its text")
    assert isinstance(second, SourceProblem) and second.key == "T2"
    assert second.message.startswith("Invoice 'Caf\ufffd' T2 was not read: it has no customer")


def test_sage50ca_entries_whose_number_cannot_be_read_are_left_to_their_own_invoice():
    """The entries of a page's invoice numbers: one with a number we cannot read is the entry of an invoice
    with that same number, which is a row problem of its own; the others are found as ever."""
    connector = Sage50CAConnector(lambda: None, local_zone=LONDON)
    page = [{"sSource1": "1001"}, {"sSource1": UNREADABLE}]
    _answering(
        connector,
        [
            {"lId": 7, "lVenCusId": 3, "sSource1": "1001", "bReversal": 0, "bReversed": 0},
            {"lId": 8, "lVenCusId": 4, "sSource1": UNREADABLE, "bReversal": 0, "bReversed": 0},
        ],
    )
    assert connector._live_entries(page) == {("3", "1001"): 7}

    detail = {"docId": 9, "lCusId": 3, "sSource": "1001", "nLineNum": 1, "dtDate": datetime(2024, 5, 1)}
    _answering(connector, [detail, {**detail, "docId": 10, "sSource": UNREADABLE}])
    assert connector._details_for(page) == {("3", "1001"): [detail]}


def test_generic_odbc_lines_whose_invoice_key_cannot_be_read_are_left_to_their_own_invoice():
    from connectors.generic import LINES, GenericODBCConnector

    connector = GenericODBCConnector(
        lambda: None,
        queries={LINES: "SELECT * FROM lines"},
        columns={LINES: {"invoice_key": "InvoiceNo"}},
        local_zone=LONDON,
    )
    connector._result_columns[LINES] = {"invoiceno": "InvoiceNo"}
    good = {"InvoiceNo": "INV1", "Amount": 5.0}
    _answering(connector, [good, {"InvoiceNo": UNREADABLE, "Amount": 7.0}])

    assert connector._lines_for(["INV1", UNREADABLE]) == {"INV1": [good]}
