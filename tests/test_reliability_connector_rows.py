"""Odd source rows the existing property tests do not reach: the generic ODBC connector (user SELECTs over
real unixODBC + SQLite3) with arbitrary cell values, and bad dates / over-long text carried through the ENGINE
end to end into problem rows while the rest of the run goes on.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.generic import GenericODBCConnector
from connectors.registry import configure_odbc_connection
from core.records import Customer, Invoice, SourceProblem
from tests.fixtures_odbc import build_sqlite_odbc
from tests.test_connector_generic import ZONE

ODD_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
) | st.sampled_from(
    ["", " ", "2024-02-30 10:00:00", "31/12/2024", "0000-00-00 00:00:00", "x" * 5000, "NaN", "1e999"]
)
CELL = st.one_of(
    st.none(),
    ODD_TEXT,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
ROWS = st.lists(st.tuples(CELL, CELL, CELL, CELL, CELL), min_size=1, max_size=6)

QUERIES = {
    "tax_rates": "SELECT 'S' AS code, 'Standard' AS label, 20.0 AS pct",
    "customers": "SELECT id, company, mail, vat, changed FROM clients",
    "items": "SELECT 'P1' AS sku, 'Paper' AS title, 1.0 AS price",
    "invoices": "SELECT no, client, issued, total, changed FROM bills",
    "invoice_lines": (
        "SELECT no AS bill, 1 AS pos, 'Line' AS txt, 1 AS qty, total AS net, 0 AS vat FROM bills"
    ),
}
COLUMNS = {
    "tax_rates": {"key": "code", "name": "label", "rate": "pct"},
    "customers": {"key": "id", "name": "company", "email": "mail", "tax_code": "vat", "modified": "changed"},
    "items": {"key": "sku", "name": "title", "price": "price"},
    "invoices": {
        "key": "no",
        "customer_key": "client",
        "date": "issued",
        "gross": "total",
        "modified": "changed",
    },
    "invoice_lines": {
        "invoice_key": "bill",
        "number": "pos",
        "description": "txt",
        "quantity": "qty",
        "net": "net",
        "tax": "vat",
    },
}


def _books(folder: Path, rows: list[tuple]) -> str:
    """The same odd cells as customers (id, company, mail, vat, changed) and invoices (no, client, issued,
    total, changed); SQLite keeps whatever type each cell has, as a badly kept database would."""
    script = (
        "CREATE TABLE clients (id, company, mail, vat, changed);"
        "CREATE TABLE bills (no, client, issued, total, changed);"
    )
    connection_string = build_sqlite_odbc(folder / "books.sqlite", script)
    database = sqlite3.connect(folder / "books.sqlite")
    database.executemany("INSERT INTO clients VALUES (?, ?, ?, ?, ?)", rows)
    database.executemany("INSERT INTO bills VALUES (?, ?, ?, ?, ?)", rows)
    database.commit()
    database.close()
    return connection_string


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS)
def test_the_generic_connector_turns_every_odd_row_into_a_record_or_a_problem(rows):
    import pyodbc

    with tempfile.TemporaryDirectory() as temp:
        connection_string = _books(Path(temp), rows)
        connector = GenericODBCConnector(
            lambda: configure_odbc_connection(pyodbc.connect(connection_string, autocommit=True)),
            queries=QUERIES,
            columns=COLUMNS,
            local_zone=ZONE,
            page_size=2,
        )
        with connector:
            customers = list(connector.read("customers"))
            invoices = list(connector.read("invoices"))
    assert len(customers) == len(rows), "one outcome per customer row, and the stream went to the end"
    assert all(isinstance(c, Customer | SourceProblem) for c in customers)
    assert len(invoices) == len(rows)
    assert all(isinstance(i, Invoice | SourceProblem) for i in invoices)
    for outcome in customers + invoices:
        if isinstance(outcome, SourceProblem):
            assert outcome.message.strip() and outcome.action.strip()
        else:
            assert outcome.key.strip()
            if outcome.modified is not None:
                assert outcome.modified.tzinfo is not None


def test_bad_dates_and_over_long_text_become_problem_rows_and_the_run_goes_on(sage_company):
    """Through the real engine: a damaged row ends as a problem with what to do, or syncs; nothing stops."""
    with sqlite3.connect(sage_company.path) as database:
        refs = [
            row[0]
            for row in database.execute(
                "SELECT ACCOUNT_REF FROM SALES_LEDGER "
                "WHERE RECORD_DELETED = 0 AND INACTIVE_FLAG = 0 ORDER BY ACCOUNT_REF"
            )
        ]
        numbers = [row[0] for row in database.execute("SELECT INVOICE_NUMBER FROM INVOICE ORDER BY 1")]
        damaged_customer, long_customer = refs[0], refs[1]
        damaged_invoice = numbers[-1]
        database.execute(
            "UPDATE SALES_LEDGER SET RECORD_MODIFY_DATE = '2024-13-45 99:99:99' WHERE ACCOUNT_REF = ?",
            (damaged_customer,),
        )
        database.execute(
            "UPDATE SALES_LEDGER SET NAME = ?, ADDRESS_1 = ? WHERE ACCOUNT_REF = ?",
            ("Ω" * 20_000, "street " * 3_000, long_customer),
        )
        database.execute(
            "UPDATE INVOICE SET INVOICE_DATE = 'yesterday' WHERE INVOICE_NUMBER = ?", (damaged_invoice,)
        )
    summary = sage_company.run()
    assert summary.status in ("ok", "partial") and not summary.error, summary.error
    with sage_company.state() as state:
        problems = {(p.entity, p.key): p for p in state.problems()}
        customer_links = state.links("customers")
        invoice_links = state.links("invoices")
    for entity, key, links in (
        ("customers", damaged_customer, customer_links),
        ("customers", long_customer, customer_links),
        ("invoices", str(damaged_invoice), invoice_links),
    ):
        problem = problems.get((entity, key))
        assert problem is not None or key in links, f"{entity} {key}: neither synced nor a problem"
        if problem is not None:
            assert problem.message.strip() and problem.action.strip()
    assert problems.get(("invoices", str(damaged_invoice))) is not None, "an invoice with no date cannot sync"
    others = [ref for ref in refs if ref not in (damaged_customer, long_customer)]
    assert all(ref in customer_links for ref in others if ("customers", ref) not in problems)
    assert len(invoice_links) >= 1  # the run went on past the damaged rows
