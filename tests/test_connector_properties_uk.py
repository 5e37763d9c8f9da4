"""Property: whatever a Sage 50 UK row holds, the stream never crashes — one record or one problem per row.

Arbitrary values (odd Unicode, control characters, NULLs, huge and negative numbers, infinities, text in
number and date columns) go into the stand-in's real tables through SQLite, and are read back through the
real SQLite3 ODBC driver. Every row must give a record or a SourceProblem carrying its key, and a good row
written after the bad ones must still come through with its exact values.
"""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.registry import SourceConfig, create_connector
from core.records import Customer, Invoice, Item, SourceProblem
from resources.demo.sage50uk_schema import SageLedger, create_schema, insert_rows, sage_timestamp
from tests.fixtures_odbc import sqlite_odbc_connection_string

LONDON = ZoneInfo("Europe/London")
GOOD_STAMP = datetime(2024, 6, 1, 12, 0)

odd_text = st.text(max_size=70)  # every code point bar surrogates: controls, NUL, emoji, combining marks
bad_dates = st.sampled_from(
    ["not a date", "2024-13-45 99:99:99", "31/02/2024", "", "  ", "0000-00-00 00:00:00", "2024-02-30"]
)
any_value = st.one_of(
    st.none(),
    odd_text,
    bad_dates,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),  # SQLite stores NaN as NULL; infinities are kept
    st.sampled_from(["1e999", "-0", "NaN", "12,50", "£19.99", "Y", "N", "-1"]),
)
row_values = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"]), any_value, min_size=0, max_size=8
)

PROPERTY_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def read_all(path: Path, stream: str) -> list:
    settings = SourceConfig(
        kind="sage50uk", connection_string=sqlite_odbc_connection_string(path), timezone="Europe/London"
    )
    with create_connector(settings, None, page_size=3) as connector:
        return list(connector.read(stream))


def company(folder: str) -> tuple[Path, sqlite3.Connection]:
    path = Path(folder) / "fuzz.sqlite"
    connection = sqlite3.connect(path)
    create_schema(connection)
    return path, connection


def fuzzed(values: dict, columns: dict[str, str]) -> dict:
    return {columns[slot]: value for slot, value in values.items() if slot in columns}


CUSTOMER_SLOTS = {
    "a": "NAME",
    "b": "ADDRESS_1",
    "c": "E_MAIL",
    "d": "DEF_TAX_CODE",
    "e": "INACTIVE_FLAG",
    "f": "RECORD_DELETED",
    "g": "RECORD_MODIFY_DATE",
    "h": "COUNTRY_CODE",
}
ITEM_SLOTS = {
    "a": "DESCRIPTION",
    "b": "SALES_PRICE",
    "c": "AVERAGE_COST_PRICE",
    "d": "LAST_PURCHASE_PRICE",
    "e": "TAX_CODE",
    "f": "INACTIVE_FLAG",
    "g": "RECORD_MODIFY_DATE",
    "h": "RECORD_DELETED",
}
INVOICE_SLOTS = {
    "a": "INVOICE_DATE",
    "b": "INVOICE_NET",
    "c": "INVOICE_TAX",
    "d": "INVOICE_GROSS",
    "e": "POSTED_CODE",
    "f": "ACCOUNT_REF",
    "g": "RECORD_MODIFY_DATE",
    "h": "INVOICE_OR_CREDIT",
}
LINE_SLOTS = {
    "a": "QUANTITY",
    "b": "UNIT_PRICE",
    "c": "NET_AMOUNT",
    "d": "TAX_AMOUNT",
    "e": "TAX_RATE",
    "f": "DESCRIPTION",
    "g": "STOCK_CODE",
    "h": "TEXT",
}
LEDGER_SLOTS = {"a": "AMOUNT", "b": "DATE", "c": "REFERENCE", "d": "OUTSTANDING", "e": "AMOUNT_PAID"}


@PROPERTY_SETTINGS
@given(rows=st.lists(row_values, max_size=6), keys=st.lists(st.one_of(st.none(), odd_text), max_size=6))
def test_odd_customer_rows_never_break_the_stream(rows, keys):
    with tempfile.TemporaryDirectory() as folder:
        path, connection = company(folder)
        written = []
        for index, values in enumerate(rows):
            key = keys[index] if index < len(keys) else f"K{index}"
            if key in written or (key is not None and key.upper() == "ZZGOOD"):
                key = f"K{index}"
            written.append(key)
            insert_rows(connection, "SALES_LEDGER", [{"ACCOUNT_REF": key, **fuzzed(values, CUSTOMER_SLOTS)}])
        good = {"ACCOUNT_REF": "ZZGOOD", "NAME": "Good Ltd", "RECORD_MODIFY_DATE": sage_timestamp(GOOD_STAMP)}
        insert_rows(connection, "SALES_LEDGER", [good])
        connection.commit()
        connection.close()

        results = read_all(path, "customers")
        assert len(results) == len(written) + 1  # exactly one outcome per row
        for result in results:
            assert isinstance(result, Customer | SourceProblem)
            if isinstance(result, SourceProblem):
                assert result.entity == "customers" and result.message
        found = {r.key: r for r in results if isinstance(r, Customer)}
        assert found["ZZGOOD"].name == "Good Ltd"
        assert found["ZZGOOD"].modified == GOOD_STAMP.replace(tzinfo=LONDON)


@PROPERTY_SETTINGS
@given(rows=st.lists(row_values, max_size=6))
def test_odd_item_rows_never_break_the_stream(rows):
    with tempfile.TemporaryDirectory() as folder:
        path, connection = company(folder)
        for index, values in enumerate(rows):
            insert_rows(connection, "STOCK", [{"STOCK_CODE": f"ODD{index}", **fuzzed(values, ITEM_SLOTS)}])
        insert_rows(
            connection, "STOCK", [{"STOCK_CODE": "ZZGOOD", "DESCRIPTION": "Good", "SALES_PRICE": 19.99}]
        )
        connection.commit()
        connection.close()

        results = read_all(path, "items")
        assert len(results) == len(rows) + 1
        keys = {r.key for r in results}
        assert keys == {f"ODD{index}" for index in range(len(rows))} | {"ZZGOOD"}  # problems keep their key
        good = next(r for r in results if r.key == "ZZGOOD")
        assert isinstance(good, Item) and good.price == Decimal("19.99")


@PROPERTY_SETTINGS
@given(
    invoices=st.lists(st.tuples(row_values, st.lists(row_values, max_size=3), row_values), max_size=4),
)
def test_odd_invoice_lines_and_ledger_rows_never_break_the_stream(invoices):
    with tempfile.TemporaryDirectory() as folder:
        path, connection = company(folder)
        ledger = SageLedger(connection)
        for number, (header, lines, receipt) in enumerate(invoices, start=1):
            insert_rows(
                connection,
                "INVOICE",
                [{"INVOICE_NUMBER": number, "ACCOUNT_REF": "ACME", **fuzzed(header, INVOICE_SLOTS)}],
            )
            for item_number, line in enumerate(lines, start=1):
                insert_rows(
                    connection,
                    "INVOICE_ITEM",
                    [{"INVOICE_NUMBER": number, "ITEM_NUMBER": item_number, **fuzzed(line, LINE_SLOTS)}],
                )
            split = ledger.post_document(
                invoice_number=number,
                is_credit=False,
                account_ref="ACME",
                when=GOOD_STAMP,
                due=None,
                net=1.0,
                tax=0.0,
                gross=1.0,
            )
            usage = ledger.add_receipt(
                invoice_split=split, account_ref="ACME", when=GOOD_STAMP, amount=1.0, reference="R"
            )
            odd_ledger = fuzzed(receipt, LEDGER_SLOTS)
            allocation = {k: v for k, v in odd_ledger.items() if k in ("AMOUNT", "DATE", "REFERENCE")}
            if allocation:
                assignments = ", ".join(f'"{column}" = ?' for column in allocation)
                connection.execute(
                    f"UPDATE AUDIT_USAGE SET {assignments} WHERE USAGE_NUMBER = ?",
                    (*allocation.values(), usage),
                )
            totals = {k: v for k, v in odd_ledger.items() if k in ("OUTSTANDING", "AMOUNT_PAID")}
            if totals:
                assignments = ", ".join(f'"{column}" = ?' for column in totals)
                connection.execute(
                    f"UPDATE AUDIT_HEADER SET {assignments} WHERE INV_REF = ?",
                    (*totals.values(), str(number)),
                )
        good_number = len(invoices) + 1
        insert_rows(
            connection,
            "INVOICE",
            [
                {
                    "INVOICE_NUMBER": good_number,
                    "INVOICE_OR_CREDIT": "Invoice",
                    "INVOICE_DATE": sage_timestamp(GOOD_STAMP),
                    "ACCOUNT_REF": "GOOD",
                    "INVOICE_NET": 19.99,
                    "INVOICE_TAX": 4.0,
                    "INVOICE_GROSS": 23.99,
                }
            ],
        )
        insert_rows(
            connection,
            "INVOICE_ITEM",
            [
                {
                    "INVOICE_NUMBER": good_number,
                    "ITEM_NUMBER": 1,
                    "QUANTITY": 1.0,
                    "UNIT_PRICE": 19.99,
                    "NET_AMOUNT": 19.99,
                    "TAX_AMOUNT": 4.0,
                    "DESCRIPTION": "Good line",
                }
            ],
        )
        connection.commit()
        connection.close()

        results = read_all(path, "invoices")
        assert len(results) <= good_number  # quotes / pro-formas (odd INVOICE_OR_CREDIT) are skipped
        assert len({r.key for r in results}) == len(results)
        for result in results:
            assert isinstance(result, Invoice | SourceProblem)
            assert result.key in {str(n) for n in range(1, good_number + 1)}
        good = next(r for r in results if r.key == str(good_number))
        assert isinstance(good, Invoice)
        assert good.gross == Decimal("23.99") and good.lines[0].unit_price == Decimal("19.99")
        assert good.lines[0].description == "Good line" and good.outstanding is None
