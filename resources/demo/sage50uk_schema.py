"""Create and fill SQLite files laid out like Sage 50 UK's ODBC tables.

Why: the demo company and the test stand-in must look exactly like what the SageLine50 driver shows, so one
DDL file (``sage50uk_schema.sql``) serves both, and rows are written the same way (timestamps as text in the
form the SQLite ODBC driver itself binds a datetime parameter, so ``>= ?`` compares like a real TIMESTAMP).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from importlib import resources
from typing import Any

SCHEMA_FILE = "sage50uk_schema.sql"


def schema_sql() -> str:
    """The DDL text (shipped as package data next to this module)."""
    return resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


# Sage creates every company with a currency list; number 1 is the base currency (Zynk's CURRENCY example).
STANDARD_CURRENCIES: tuple[dict[str, Any], ...] = (
    {
        "NUMBER": 1,
        "CODE": "GBP",
        "SYMBOL": "£",
        "NAME": "Pound Sterling",
        "EMU_MEMBER": 0,
        "BASE_CURRENCY": 1,
    },
    {"NUMBER": 2, "CODE": "EUR", "SYMBOL": "€", "NAME": "Euro", "EMU_MEMBER": 1, "BASE_CURRENCY": 0},
    {"NUMBER": 3, "CODE": "USD", "SYMBOL": "$", "NAME": "US Dollar", "EMU_MEMBER": 0, "BASE_CURRENCY": 0},
)


def create_schema(connection: sqlite3.Connection) -> None:
    """The tables, and the currency list Sage fills in for every new company."""
    connection.executescript(schema_sql())
    insert_rows(
        connection, "CURRENCY", [{**row, "RATE": 1.0, "RECORD_DELETED": 0} for row in STANDARD_CURRENCIES]
    )


def sage_timestamp(value: datetime | None) -> str | None:
    """A naive local timestamp as Sage stores it, in the text form 'yyyy-mm-dd hh:mm:ss.fff'.

    The fixed-width millisecond part matches what pyodbc + sqliteodbc send for a datetime parameter, so a
    stored value equal to the parameter compares equal rather than shorter-and-therefore-smaller.
    """
    if value is None:
        return None
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def sage_date(value: date | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d")


def insert_rows(connection: sqlite3.Connection, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert dict rows (all with the same keys) with one executemany; returns the number written."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    columns = list(first)
    column_list = ", ".join(_quote(column) for column in columns)
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {_quote(table)} ({column_list}) VALUES ({placeholders})"
    count = 0

    def values() -> Iterator[tuple[Any, ...]]:
        nonlocal count
        for row in itertools.chain((first,), iterator):
            count += 1
            yield tuple(row.get(column) for column in columns)

    connection.executemany(sql, values())
    return count


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class SageLedger:
    """Writes invoices and receipts into the audit trail the way Sage 50 UK does, with its own numbering.

    Why: the connector reads paid state from AUDIT_HEADER / AUDIT_SPLIT / AUDIT_USAGE; the demo company and
    the test stand-in must link those rows the same way (see connectors/sage50uk.py's module docstring).
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self._next_header = self._next("AUDIT_HEADER", "HEADER_NUMBER")
        self._next_split = self._next("AUDIT_SPLIT", "SPLIT_NUMBER")
        self._next_usage = self._next("AUDIT_USAGE", "USAGE_NUMBER")

    def _next(self, table: str, column: str) -> int:
        row = self.connection.execute(f"SELECT MAX({_quote(column)}) FROM {_quote(table)}").fetchone()
        return int(row[0] or 0) + 1

    def _entry(self, header: dict[str, Any], split: dict[str, Any]) -> tuple[int, int]:
        """One ledger transaction: a header and its single split."""
        header_number, split_number = self._next_header, self._next_split
        self._next_header += 1
        self._next_split += 1
        insert_rows(self.connection, "AUDIT_HEADER", [{"HEADER_NUMBER": header_number, **header}])
        insert_rows(
            self.connection,
            "AUDIT_SPLIT",
            [{"SPLIT_NUMBER": split_number, "HEADER_NUMBER": header_number, **split}],
        )
        return header_number, split_number

    def post_document(
        self,
        *,
        invoice_number: int,
        is_credit: bool,
        account_ref: str,
        when: datetime,
        due: date | None,
        net: float,
        tax: float,
        gross: float,
        nominal_code: str = "4000",
        tax_code: str = "T1",
        modified: datetime | None = None,
        currency: int = 1,
        foreign_rate: float = 1.0,
    ) -> int:
        """Post an invoice (SI) or credit note (SC) to the ledger; returns its split number.

        Amounts are in the document's currency (``currency``, a CURRENCY.NUMBER); the base-currency columns
        get them divided by ``foreign_rate`` (units of that currency per pound), the FOREIGN_* twins as given.
        """
        sign = -1 if is_credit else 1
        kind = "SC" if is_credit else "SI"
        stamp = sage_timestamp(modified or when)

        def base(value: float) -> float:
            return round(value / foreign_rate, 2)

        amounts = {
            "NET_AMOUNT": sign * base(net),
            "TAX_AMOUNT": sign * base(tax),
            "GROSS_AMOUNT": sign * base(gross),
            "AMOUNT_PAID": 0.0,
            "OUTSTANDING": sign * base(gross),
            "PAID_FLAG": "N",
        }
        foreign = {
            "FOREIGN_NET_AMOUNT": sign * net,
            "FOREIGN_TAX_AMOUNT": sign * tax,
            "FOREIGN_GROSS_AMOUNT": sign * gross,
            "FOREIGN_AMOUNT_PAID": 0.0,
            "FOREIGN_OUTSTANDING": sign * gross,
            "CURRENCY": currency,
            "FOREIGN_RATE": foreign_rate,
        }
        _, split = self._entry(
            {
                "TRAN_NUMBER": self._next_header,
                "TYPE": kind,
                "DATE": sage_date(when.date()),
                "ACCOUNT_REF": account_ref,
                "INV_REF": str(invoice_number),
                "DETAILS": f"{'Credit note' if is_credit else 'Invoice'} {invoice_number}",
                "DUE_DATE": sage_date(due),
                **amounts,
                **foreign,
                "PAID_STATUS": "Unpaid",
                "DELETED_FLAG": 0,
                "ISP_REFERENCE": invoice_number,
                "DATE_AMENDED": sage_date(when.date()),
                "RECORD_MODIFY_DATE": stamp,
            },
            {
                "TRAN_NUMBER": self._next_header,
                "TYPE": kind,
                "NOMINAL_CODE": nominal_code,
                "TAX_CODE": tax_code,
                "DEPT_NUMBER": 0,
                **amounts,
                "VAT_FLAG": "N",
                "RECORD_MODIFY_DATE": stamp,
            },
        )
        return split

    def add_receipt(
        self,
        *,
        invoice_split: int,
        account_ref: str,
        when: datetime,
        amount: float,
        reference: str,
        kind: str = "SR",
        modified: datetime | None = None,
        touch_invoice: bool = True,
        foreign_amount: float | None = None,
    ) -> int:
        """Record a receipt and allocate it to the invoice's split; returns the allocation's USAGE_NUMBER.

        ``amount`` is in pounds; ``foreign_amount`` in the invoice's own currency (the same when omitted).

        ``touch_invoice`` also updates the invoice's header (outstanding, paid flag, modified) as Sage does;
        tests turn it off to prove that a new allocation alone re-reads the invoice.
        """
        stamp = sage_timestamp(modified or when)
        day = sage_date(when.date())
        foreign_amount = amount if foreign_amount is None else foreign_amount
        amounts = {
            "NET_AMOUNT": -amount,
            "TAX_AMOUNT": 0.0,
            "GROSS_AMOUNT": -amount,
            "AMOUNT_PAID": -amount,
            "OUTSTANDING": 0.0,
            "PAID_FLAG": "Y",
        }
        _, split = self._entry(
            {
                "TRAN_NUMBER": self._next_header,
                "TYPE": kind,
                "DATE": day,
                "ACCOUNT_REF": account_ref,
                "INV_REF": reference,
                "DETAILS": "Sales Receipt",
                **amounts,
                "PAID_STATUS": "Paid",
                "DELETED_FLAG": 0,
                "DATE_AMENDED": day,
                "RECORD_MODIFY_DATE": stamp,
            },
            {
                "TRAN_NUMBER": self._next_header,
                "TYPE": kind,
                "NOMINAL_CODE": "1200",
                "TAX_CODE": "T9",
                "DEPT_NUMBER": 0,
                **amounts,
                "VAT_FLAG": "N",
                "RECORD_MODIFY_DATE": stamp,
            },
        )
        usage = self._next_usage
        self._next_usage += 2
        allocation = {"REFERENCE": reference, "DATE": day, "AMOUNT": amount, "FOREIGN_AMOUNT": foreign_amount}
        allocation |= {"DELETED_FLAG": 0, "RECORD_MODIFY_DATE": stamp}
        # The invoice's side (what LedgerBridge reads), then Sage's mirror row on the receipt's side.
        insert_rows(
            self.connection,
            "AUDIT_USAGE",
            [
                {"USAGE_NUMBER": usage, "SPLIT_NUMBER": invoice_split, "SPLIT_CROSSREF": split, "TYPE": kind}
                | allocation,
                {
                    "USAGE_NUMBER": usage + 1,
                    "SPLIT_NUMBER": split,
                    "SPLIT_CROSSREF": invoice_split,
                    "TYPE": "SI",
                }
                | allocation,
            ],
        )
        if touch_invoice:
            paid = (
                "AMOUNT_PAID = AMOUNT_PAID + ?, OUTSTANDING = OUTSTANDING - ?, "
                "PAID_FLAG = CASE WHEN ABS(OUTSTANDING - ?) < 0.005 THEN 'Y' ELSE 'N' END, "
                "RECORD_MODIFY_DATE = ?"
            )
            values = (amount, amount, amount, stamp)
            self.connection.execute(
                f"UPDATE AUDIT_SPLIT SET {paid} WHERE SPLIT_NUMBER = ?", (*values, invoice_split)
            )
            self.connection.execute(
                f"UPDATE AUDIT_HEADER SET {paid}, FOREIGN_AMOUNT_PAID = FOREIGN_AMOUNT_PAID + ?, "
                "FOREIGN_OUTSTANDING = FOREIGN_OUTSTANDING - ? "
                "WHERE HEADER_NUMBER = (SELECT HEADER_NUMBER FROM AUDIT_SPLIT WHERE SPLIT_NUMBER = ?)",
                (*values, foreign_amount, foreign_amount, invoice_split),
            )
        return usage
