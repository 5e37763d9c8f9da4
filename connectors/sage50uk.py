"""Sage 50 UK (Sage Accounts, ex-Line 50) read through its SageLine50 ODBC driver.

Why: Sage's ODBC driver is the one free, supported way to read a UK company's books. It is read-only, slow,
keeps DOUBLE money and naive local timestamps, and calls a column TYPE or DATE. This module knows the real
table and column names (accounting-packages.md section 1.2) and turns rows into canonical records, a page at
a time: invoice lines, ledger headers and allocations are fetched per page of invoices with short IN (...)
lists, so memory stays flat however large the books are. The invoice tables are read as values in the
order of their SELECT (``ordered_rows``), not as a dict per row, and a cell's label for its error message is
built only for a cell the quick conversions (``connectors.cells``) leave to the reference: converting rows,
not the driver, was most of a large read's time (issue 16). A hundred invoices and their lines at a time
are converted a column at a time (``connectors.columns``); a row with a cell off the quick paths goes
through the per-row code (``_invoice``, ``_line``), which stays the definition of every record and error.

How an invoice's paid state is found (stand-in semantics derived from the reference, to check on a real
install): the invoicing-module INVOICE row reaches the ledger as an AUDIT_HEADER of TYPE 'SI' (credit note:
'SC') whose INV_REF (or ISP_REFERENCE) is the invoice number; that header's OUTSTANDING / AMOUNT_PAID give the
paid state. Its AUDIT_SPLIT rows carry the allocations: an AUDIT_USAGE row whose SPLIT_NUMBER is the invoice's
split and whose TYPE is 'SR' (receipt) or 'SA' (payment on account) is one payment, keyed by USAGE_NUMBER.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from connectors.base import IN_VALUES, ConnectionCheck, Connector, StreamSpec, TableUse
from connectors.cells import quick_aware, quick_decimal
from connectors.columns import (
    OFF,
    ONLY_INTS,
    ONLY_NULLS,
    ONLY_TEXT,
    aware_column,
    money_column,
    off_rows,
    quick_text,
    text_column,
    without_rows,
)
from connectors.common import (
    CONVERSION_ERRORS,
    QUANTITY_PLACES,
    RowProblem,
    amount,
    chunks,
    flag,
    flag_or_false,
    latest,
    optional_amount,
    pages,
    placeholders,
    rate,
    readable_text,
    required_text,
    required_when,
    row_problem,
    since_parameter,
    text,
    timestamp_literal,
    when,
)
from connectors.errors import error_from_odbc
from connectors.sql import name
from connectors.unchanged import KnownRows, ReadItem, Unchanged, digest
from core.errors import ConfigError, LedgerBridgeError
from core.records import (
    RATE_PLACES,
    Address,
    Customer,
    EntityName,
    Invoice,
    InvoiceLine,
    Item,
    Payment,
    Record,
    SourceProblem,
    Supplier,
    TaxRate,
)

PACKAGE = "sage50uk"
MODIFIED = "RECORD_MODIFY_DATE"

# Sage's special non-stock product codes: S1/S2/S3 are free-text service lines, M a message line.
NON_STOCK_CODES = frozenset({"S1", "S2", "S3", "M"})
MESSAGE_CODE = "M"
RECEIPT_TYPES = ("SR", "SA")
DOCUMENT_TYPES = ("SI", "SC")
_PAYMENT_METHODS = {"SR": "Receipt", "SA": "Payment on account"}
_DOCUMENT_CODES: dict[float, str] = {0: "invoice", 1: "credit"}
_ZERO = Decimal("0.00")
_PLUS, _MINUS = Decimal(1), Decimal(-1)

# VAT_INCLUDE is not read: it means "included in the VAT return", not "prices include tax"
# (docs/connectors.md).
TAX_COLUMNS = ("TAX_CODE", "TAX_CODE_ID", "DESCRIPTION", "TAX_RATE")
# What SALES_LEDGER and PURCHASE_LEDGER (its supplier twin in Zynk's schema) share after the address.
_LEDGER_DETAIL_COLUMNS = (
    "CONTACT_NAME",
    "TELEPHONE",
    "E_MAIL",
    "WEB_ADDRESS",
    "DEF_TAX_CODE",
    "VAT_REG_NUMBER",
    "COUNTRY_CODE",
    "INACTIVE_FLAG",
    "RECORD_DELETED",
    MODIFIED,
)
_ADDRESS_COLUMNS = tuple(f"ADDRESS_{n}" for n in range(1, 6))
_DELIVERY_COLUMNS = tuple(f"DEL_ADDRESS_{n}" for n in range(1, 6))
CUSTOMER_COLUMNS = (
    "ACCOUNT_REF",
    "NAME",
    *_ADDRESS_COLUMNS,
    *_DELIVERY_COLUMNS,
    *_LEDGER_DETAIL_COLUMNS,
)
# PURCHASE_LEDGER as Zynk's published schema lists it (docs/connectors.md).
SUPPLIER_COLUMNS = ("ACCOUNT_REF", "NAME", *_ADDRESS_COLUMNS, *_LEDGER_DETAIL_COLUMNS)
ITEM_COLUMNS = (
    "STOCK_CODE",
    "DESCRIPTION",
    "SALES_PRICE",
    "AVERAGE_COST_PRICE",
    "LAST_PURCHASE_PRICE",
    "TAX_CODE",
    "NOMINAL_CODE",
    "PURCHASE_NOMINAL_CODE",
    "INACTIVE_FLAG",
    "RECORD_DELETED",
    MODIFIED,
)
INVOICE_COLUMNS = (
    "INVOICE_NUMBER",
    "INVOICE_OR_CREDIT",
    "INVOICE_DATE",
    "ACCOUNT_REF",
    "CUST_ORDER_NUMBER",
    "INVOICE_NET",
    "INVOICE_TAX",
    "INVOICE_GROSS",
    "POSTED_CODE",
    "PAYMENT_DUE_DATE",
    "RECORD_DELETED",
    MODIFIED,
    # Carriage lives on the header and is part of INVOICE_NET/TAX/GROSS ("goods and carriage").
    "CARR_NET",
    "CARR_TAX",
    "CARR_NOM_CODE",
    "CARR_TAX_CODE",
    # The document's own currency (a CURRENCY.NUMBER) and its amounts in it.
    "CURRENCY",
    "FOREIGN_RATE",
    "FOREIGN_INVOICE_NET",
    "FOREIGN_INVOICE_TAX",
    "FOREIGN_INVOICE_GROSS",
    "FOREIGN_CARR_NET",
    "FOREIGN_CARR_TAX",
)
LINE_COLUMNS = (
    "INVOICE_NUMBER",
    "ITEM_NUMBER",
    "STOCK_CODE",
    "DESCRIPTION",
    "TEXT",
    "QUANTITY",
    "UNIT_PRICE",
    "NET_AMOUNT",
    "TAX_AMOUNT",
    "TAX_CODE",
    "TAX_RATE",
    "NOMINAL_CODE",
    "FOREIGN_UNIT_PRICE",
    "FOREIGN_NET_AMOUNT",
    "FOREIGN_TAX_AMOUNT",
)
HEADER_COLUMNS = (
    "HEADER_NUMBER",
    "TYPE",
    "ACCOUNT_REF",
    "INV_REF",  # VARCHAR(30), free text
    "ISP_REFERENCE",  # INTEGER: the invoicing-module document number (0 when none)
    "AMOUNT_PAID",
    "OUTSTANDING",
    "FOREIGN_AMOUNT_PAID",
    "FOREIGN_OUTSTANDING",
    "PAID_FLAG",
    "DELETED_FLAG",
    MODIFIED,
)
USAGE_COLUMNS = (
    "USAGE_NUMBER",
    "SPLIT_NUMBER",
    "TYPE",
    "REFERENCE",
    "DATE",
    "AMOUNT",
    "FOREIGN_AMOUNT",
    "DELETED_FLAG",
    MODIFIED,
)
CURRENCY_COLUMNS = ("NUMBER", "CODE", "BASE_CURRENCY")

# The invoices stream reads its rows as values in the order of the SELECT (``ordered_rows``), not as dicts:
# where each column is. A money column that has a FOREIGN_ twin is a pair, indexed by ``foreign``.
_Row = Sequence[Any]
# An INVOICE row's own cells as _quick_invoices converts them (number, customer_key, gross, posted, carriage
# net and tax, date, net, tax, due_date, reference, deleted, modified, currency), for _quick_invoice.
_QuickInvoice = tuple[Any, ...]


class _LineColumns(NamedTuple):
    """The INVOICE_ITEM cells ``_quick_lines`` converts, a list per column, a row's cells at one position
    (``OFF`` where the row is ``_line``'s)."""

    line_numbers: list[Any]
    descriptions: list[Any]
    quantities: list[Any]
    unit_prices: list[Any]
    nets: list[Any]
    taxes: list[Any]
    stock_codes: list[Any]
    tax_codes: list[Any]
    tax_rates: list[Any]
    nominal_codes: list[Any]


# This many invoices (and their lines) are converted a column at a time together: enough cells a column for
# ``map`` to pay, few enough values held at once (a whole page's made the read's peak a third higher).
_AT_ONCE = 100


def _at(columns: tuple[str, ...], column: str) -> int:
    return columns.index(column)


def _pair(columns: tuple[str, ...], column: str) -> tuple[int, int]:
    return columns.index(column), columns.index(f"FOREIGN_{column}")


_I_NUMBER = _at(INVOICE_COLUMNS, "INVOICE_NUMBER")
_I_KIND = _at(INVOICE_COLUMNS, "INVOICE_OR_CREDIT")
_I_DATE = _at(INVOICE_COLUMNS, "INVOICE_DATE")
_I_ACCOUNT = _at(INVOICE_COLUMNS, "ACCOUNT_REF")
_I_ORDER_NUMBER = _at(INVOICE_COLUMNS, "CUST_ORDER_NUMBER")
_I_POSTED = _at(INVOICE_COLUMNS, "POSTED_CODE")
_I_DUE_DATE = _at(INVOICE_COLUMNS, "PAYMENT_DUE_DATE")
_I_DELETED = _at(INVOICE_COLUMNS, "RECORD_DELETED")
_I_MODIFIED = _at(INVOICE_COLUMNS, MODIFIED)
_I_CARRIAGE_NOMINAL = _at(INVOICE_COLUMNS, "CARR_NOM_CODE")
_I_CARRIAGE_TAX_CODE = _at(INVOICE_COLUMNS, "CARR_TAX_CODE")
_I_CURRENCY = _at(INVOICE_COLUMNS, "CURRENCY")
_I_FOREIGN_RATE = _at(INVOICE_COLUMNS, "FOREIGN_RATE")
_I_NET = _pair(INVOICE_COLUMNS, "INVOICE_NET")
_I_TAX = _pair(INVOICE_COLUMNS, "INVOICE_TAX")
_I_GROSS = _pair(INVOICE_COLUMNS, "INVOICE_GROSS")
_I_CARRIAGE_NET = _pair(INVOICE_COLUMNS, "CARR_NET")
_I_CARRIAGE_TAX = _pair(INVOICE_COLUMNS, "CARR_TAX")
_L_INVOICE_NUMBER = _at(LINE_COLUMNS, "INVOICE_NUMBER")
_L_ITEM_NUMBER = _at(LINE_COLUMNS, "ITEM_NUMBER")
_L_STOCK_CODE = _at(LINE_COLUMNS, "STOCK_CODE")
_L_DESCRIPTION = _at(LINE_COLUMNS, "DESCRIPTION")
_L_TEXT = _at(LINE_COLUMNS, "TEXT")
_L_QUANTITY = _at(LINE_COLUMNS, "QUANTITY")
_L_TAX_CODE = _at(LINE_COLUMNS, "TAX_CODE")
_L_TAX_RATE = _at(LINE_COLUMNS, "TAX_RATE")
_L_NOMINAL_CODE = _at(LINE_COLUMNS, "NOMINAL_CODE")
_L_UNIT_PRICE = _pair(LINE_COLUMNS, "UNIT_PRICE")
_L_NET = _pair(LINE_COLUMNS, "NET_AMOUNT")
_L_TAX = _pair(LINE_COLUMNS, "TAX_AMOUNT")
_H_NUMBER = _at(HEADER_COLUMNS, "HEADER_NUMBER")
_H_TYPE = _at(HEADER_COLUMNS, "TYPE")
_H_ACCOUNT = _at(HEADER_COLUMNS, "ACCOUNT_REF")
_H_INV_REF = _at(HEADER_COLUMNS, "INV_REF")
_H_ISP_REFERENCE = _at(HEADER_COLUMNS, "ISP_REFERENCE")
_H_DELETED = _at(HEADER_COLUMNS, "DELETED_FLAG")
_H_MODIFIED = _at(HEADER_COLUMNS, MODIFIED)
_H_PAID = _pair(HEADER_COLUMNS, "AMOUNT_PAID")
_H_OUTSTANDING = _pair(HEADER_COLUMNS, "OUTSTANDING")
_U_USAGE_NUMBER = _at(USAGE_COLUMNS, "USAGE_NUMBER")
_U_SPLIT_NUMBER = _at(USAGE_COLUMNS, "SPLIT_NUMBER")
_U_TYPE = _at(USAGE_COLUMNS, "TYPE")
_U_REFERENCE = _at(USAGE_COLUMNS, "REFERENCE")
_U_DATE = _at(USAGE_COLUMNS, "DATE")
_U_DELETED = _at(USAGE_COLUMNS, "DELETED_FLAG")
_U_MODIFIED = _at(USAGE_COLUMNS, MODIFIED)
_U_AMOUNT = _pair(USAGE_COLUMNS, "AMOUNT")

_STOPS = '{stream} cannot be read: every sync stops at {stream} with "does not have the table or column"'

# Every table and the columns read from it (the doctor probes exactly these) and what happens without them.
TABLE_USES: tuple[TableUse, ...] = (
    TableUse("TAX_CODE", TAX_COLUMNS, _STOPS.format(stream="tax codes"), count=True, money=("TAX_RATE",)),
    TableUse(
        "SALES_LEDGER", CUSTOMER_COLUMNS, _STOPS.format(stream="customers"), count=True, dates=(MODIFIED,)
    ),
    TableUse(
        "PURCHASE_LEDGER",
        SUPPLIER_COLUMNS,
        _STOPS.format(stream="suppliers"),
        count=True,
        dates=(MODIFIED,),
    ),
    TableUse(
        "STOCK",
        ITEM_COLUMNS,
        _STOPS.format(stream="stock items"),
        count=True,
        money=("SALES_PRICE", "AVERAGE_COST_PRICE"),
        dates=(MODIFIED,),
    ),
    TableUse(
        "INVOICE",
        INVOICE_COLUMNS,
        _STOPS.format(stream="invoices"),
        count=True,
        money=("INVOICE_GROSS", "CARR_NET", "FOREIGN_INVOICE_GROSS", "FOREIGN_RATE"),
        dates=("INVOICE_DATE", MODIFIED),
    ),
    TableUse(
        "INVOICE_ITEM", LINE_COLUMNS, _STOPS.format(stream="invoices"), money=("NET_AMOUNT", "UNIT_PRICE")
    ),
    TableUse(
        "AUDIT_HEADER",
        HEADER_COLUMNS,
        _STOPS.format(stream="invoices") + " (their paid state comes from the ledger)",
        money=("OUTSTANDING", "AMOUNT_PAID"),
        dates=(MODIFIED,),
    ),
    TableUse("AUDIT_SPLIT", ("SPLIT_NUMBER", "HEADER_NUMBER"), _STOPS.format(stream="invoices")),
    TableUse(
        "AUDIT_USAGE",
        USAGE_COLUMNS,
        _STOPS.format(stream="invoices") + " (their receipts come from the allocations)",
        money=("AMOUNT", "FOREIGN_AMOUNT"),
        dates=("DATE", MODIFIED),
    ),
    TableUse(
        "CURRENCY",
        CURRENCY_COLUMNS,
        "invoices in the base currency are read as usual; an invoice in another currency becomes a problem "
        "(its currency cannot be named)",
        optional=True,
    ),
)

_STREAMS = (
    StreamSpec("tax_rates", "TAX_CODE", "TAX_CODE", None, "none: every tax code is read every time"),
    StreamSpec("customers", "SALES_LEDGER", "ACCOUNT_REF", MODIFIED, "RECORD_DELETED=1 or INACTIVE_FLAG=1"),
    StreamSpec(
        "suppliers", "PURCHASE_LEDGER", "ACCOUNT_REF", MODIFIED, "RECORD_DELETED=1 or INACTIVE_FLAG=1"
    ),
    StreamSpec("items", "STOCK", "STOCK_CODE", MODIFIED, "RECORD_DELETED=1 or INACTIVE_FLAG=1"),
    StreamSpec(
        "invoices",
        "INVOICE",
        "INVOICE_NUMBER",
        MODIFIED,
        "RECORD_DELETED=1; also re-read when its AUDIT_HEADER or AUDIT_USAGE rows change",
    ),
)

# What a failed open looks like when the data path is wrong (SQLite stand-in: "connect failed (14)";
# Sage's driver words it in several ways, all naming the path or the data files).
_WRONG_PATH_MARKERS = ("connect failed", "invalid data path", "cannot find", "path not found", "no such file")


def _columns(names: Iterable[str]) -> str:
    return ", ".join(name(column) for column in names)


def quote(identifier: str) -> str:
    """Sage's driver takes plain names; only reserved words (TYPE, DATE, TEXT...) are quoted."""
    return name(identifier)


class Sage50UKConnector(Connector):
    """Reads tax codes, customers, stock items and invoices (with paid state and receipts) from Sage 50 UK."""

    kind = "sage50uk"
    display_name = "Sage 50 UK"
    # Its conversions read the rows (an invoice's with its lines, ledger entries and receipts, which
    # ``_digests`` takes together), the zone and the currency list (salted in): checked for read_skipping.
    skips_unchanged_rows = True
    _currency_list: dict[int, tuple[str, bool]] | None = None  # read once per invoice read

    def streams(self) -> tuple[StreamSpec, ...]:
        return _STREAMS

    def tables(self) -> tuple[TableUse, ...]:
        return TABLE_USES

    def package_facts(self) -> list[tuple[str, str]]:
        """Foreign-currency invoices and carriage: the parts of Sage's layout our stand-ins can only guess."""
        facts: list[tuple[str, str]] = []
        for label, sql in (
            ("Invoices in another currency", "SELECT COUNT(*) FROM INVOICE WHERE CURRENCY > 1"),
            ("Invoices with carriage", "SELECT COUNT(*) FROM INVOICE WHERE CARR_NET <> 0 OR CARR_TAX <> 0"),
            ("Base currency", "SELECT CODE FROM CURRENCY WHERE BASE_CURRENCY = 1"),
        ):
            try:
                facts.append((label, text(self.scalar(sql, f"counting {label.lower()}"))))
            except LedgerBridgeError as exc:
                facts.append((label, f"could not be read ({exc.message})"))
        return facts

    # --- connection ---------------------------------------------------------------------------------------

    def connect_error(self, exc: BaseException) -> LedgerBridgeError:
        mapped = error_from_odbc(exc, package=PACKAGE, during="opening the company data")
        lower = str(exc).lower()
        if not isinstance(mapped, ConfigError) and any(marker in lower for marker in _WRONG_PATH_MARKERS):
            return ConfigError(
                "The Sage 50 UK company data could not be opened: the data path looks wrong or the folder is "
                "missing.",
                action="Enter the company's ACCDATA folder (Help > About > Data Directory in Sage) as DIR= "
                "in Settings > Accounting package, and check this PC can reach it.",
                detail=mapped.detail,
            )
        return mapped

    def _changed_since(self, since: datetime, column: str = MODIFIED) -> str:
        """Changed since ``since`` (a timestamp literal, as public queries against Sage's driver write
        dates), plus every row with no date."""
        local = since_parameter(since, self.local_zone, None)
        quoted = quote(column)
        return f"({quoted} >= {timestamp_literal(local, self.connection())} OR {quoted} IS NULL)"

    def since_filter(self, spec: StreamSpec, since: datetime | None) -> tuple[str, list[Any]]:
        """The declared read's filter, written as a timestamp literal like the invoices'."""
        if since is None or spec.replication_key is None:
            return "", []
        return self._changed_since(since, spec.replication_key), []

    def _since(self, since: datetime | None, column: str = MODIFIED) -> str:
        """The WHERE clause for an incremental read ('' for a full read)."""
        return "" if since is None else f" WHERE {self._changed_since(since, column)}"

    # --- test connection --------------------------------------------------------------------------------

    def test_connection(self) -> ConnectionCheck:
        try:
            connection = self.connection()
            count_rows = list(
                self.rows(f"SELECT COUNT(*) AS N FROM {quote('SALES_LEDGER')}", during="counting customers")
            )
            customers = int(next(iter(count_rows[0].values()))) if count_rows else 0
            for use in TABLE_USES:
                if use.optional:
                    continue
                table, columns = use.table, use.columns
                list(
                    self.rows(
                        f"SELECT {_columns(columns)} FROM {quote(table)} WHERE 1 = 0",
                        during=f"checking the {table} table",
                    )
                )
            company = self._company_name()
            driver = _driver_name(connection)
        except LedgerBridgeError as exc:
            self.close()
            return ConnectionCheck(ok=False, message=exc.message, action=exc.action, detail=exc.detail)
        self.close()  # Sage allows one login per user: do not hold it between runs
        parts = [
            f"Company: {company}" if company else "",
            f"{customers} customers",
            driver and f"driver {driver}",
        ]
        return ConnectionCheck(
            ok=True,
            message="Connected to Sage 50 UK.",
            detail="; ".join(part for part in parts if part),
        )

    def _company_name(self) -> str:
        """Sage keeps the company's own details in COMPANY; older versions may not expose it over ODBC."""
        try:
            for row in self.rows(f"SELECT {quote('NAME')} FROM {quote('COMPANY')}", during="reading COMPANY"):
                return text(row.get("NAME"))
        except LedgerBridgeError:
            return ""
        return ""

    # --- streams ------------------------------------------------------------------------------------------

    def read(self, stream: EntityName, since: datetime | None = None) -> Iterator[ReadItem]:
        if stream == "tax_rates":
            return self._read_tax_rates()
        if stream == "customers":
            return self.read_declared(stream, CUSTOMER_COLUMNS, self._customer, "Customer", since)
        if stream == "suppliers":
            return self.read_declared(stream, SUPPLIER_COLUMNS, self._supplier, "Supplier", since)
        if stream == "items":
            return self.read_declared(stream, ITEM_COLUMNS, self._item, "Stock item", since)
        if stream == "invoices":
            return self._read_invoices(since)
        raise ConfigError(
            f"Sage 50 UK has no stream {stream!r}.",
            action="Use tax_rates, customers, suppliers, items or invoices (payments come with their "
            "invoices).",
        )

    def _read_tax_rates(self) -> Iterator[ReadItem]:
        sql = f"SELECT {_columns(TAX_COLUMNS)} FROM {quote('TAX_CODE')} ORDER BY {quote('TAX_CODE')}"
        for row in self.rows(sql, during="reading tax codes"):
            key = text(row.get("TAX_CODE")).upper()
            try:
                record: Record | SourceProblem = self._tax_rate(row, key)
            except CONVERSION_ERRORS as exc:
                record = row_problem("tax_rates", key, exc, what="Tax code")
            yield record

    def _tax_rate(self, row: dict[str, Any], key: str) -> TaxRate:
        code = required_text(key, "tax code")
        return TaxRate(
            key=code,
            code=code,
            name=text(row.get("DESCRIPTION")) or code,
            rate=rate(row.get("TAX_RATE")),
        )

    def _customer(self, row: dict[str, Any], key: str) -> Customer:
        country = text(row.get("COUNTRY_CODE"))
        return Customer(
            **self._ledger_account(row, key), delivery_address=_address(row, _DELIVERY_COLUMNS, country)
        )

    def _supplier(self, row: dict[str, Any], key: str) -> Supplier:
        return Supplier(**self._ledger_account(row, key))

    def _ledger_account(self, row: dict[str, Any], key: str) -> dict[str, Any]:
        """What a SALES_LEDGER and a PURCHASE_LEDGER row share (the same columns in both)."""
        return {
            "key": required_text(key, "account reference"),
            "name": required_text(row.get("NAME"), "name"),
            "email": text(row.get("E_MAIL")),
            "phone": text(row.get("TELEPHONE")),
            "contact_name": text(row.get("CONTACT_NAME")),
            "tax_code": text(row.get("DEF_TAX_CODE")).upper(),
            "tax_number": text(row.get("VAT_REG_NUMBER")),
            "address": _address(row, _ADDRESS_COLUMNS, text(row.get("COUNTRY_CODE"))),
            "website": text(row.get("WEB_ADDRESS")),
            "active": not flag(row.get("INACTIVE_FLAG")),
            "deleted": flag(row.get("RECORD_DELETED")),
            "modified": when(row.get(MODIFIED), self.local_zone, "modified date"),
        }

    def _item(self, row: dict[str, Any], key: str) -> Item:
        code = required_text(key, "stock code")
        description = text(row.get("DESCRIPTION"))
        average = optional_amount(row.get("AVERAGE_COST_PRICE"), "average cost price")
        last = optional_amount(row.get("LAST_PURCHASE_PRICE"), "last purchase price")
        return Item(
            key=code,
            code=code,
            name=description or code,
            description=description,
            price=amount(row.get("SALES_PRICE"), "sales price", default=Decimal("0.00")),
            cost=average if average else last if last is not None else average,
            tax_code=text(row.get("TAX_CODE")).upper(),
            nominal_code=text(row.get("NOMINAL_CODE")),
            purchase_nominal_code=text(row.get("PURCHASE_NOMINAL_CODE")),
            active=not flag(row.get("INACTIVE_FLAG")),
            deleted=flag(row.get("RECORD_DELETED")),
            modified=when(row.get(MODIFIED), self.local_zone, "modified date"),
        )

    # --- invoices -----------------------------------------------------------------------------------------

    def _read_invoices(self, since: datetime | None) -> Iterator[ReadItem]:
        self._currency_list = None
        where = self._since(since)
        sql = (
            f"SELECT {_columns(INVOICE_COLUMNS)} FROM {quote('INVOICE')}{where} "
            f"ORDER BY {quote('INVOICE_NUMBER')}"
        )
        already_read: set[str] = set()
        invoices = self.ordered_rows(sql, INVOICE_COLUMNS, during="reading invoices")
        for page in pages(invoices, self.page_size):
            if since is not None:
                already_read.update(text(row[_I_NUMBER]) for row in page)
            yield from self._invoice_page(page)
            del page  # its rows are converted: not held while the next page's are fetched
        if since is None:
            return
        # Invoices not edited themselves but whose ledger entry or allocations changed (a new receipt).
        changed = sorted(self._invoices_changed_in_ledger(since) - already_read, key=_number_order)
        numbers = [int(number) for number in changed if number.isdigit()]
        sql = (
            f"SELECT {_columns(INVOICE_COLUMNS)} FROM {quote('INVOICE')} "
            f"WHERE {quote('INVOICE_NUMBER')} {IN_VALUES} ORDER BY {quote('INVOICE_NUMBER')}"
        )
        invoices = self.ordered_rows_in(
            sql, INVOICE_COLUMNS, numbers, during="reading paid invoices", size=self.page_size
        )
        for page in pages(invoices, self.page_size):
            yield from self._invoice_page(page)

    def _invoices_changed_in_ledger(self, since: datetime) -> set[str]:
        """Invoice numbers whose AUDIT_HEADER or receipt allocations changed since (or carry no date)."""
        changed_since = self._changed_since(since)
        references: set[str] = set()
        document_types = ", ".join(f"'{kind}'" for kind in DOCUMENT_TYPES)
        reference_columns = ("INV_REF", "ISP_REFERENCE")
        header_sql = (
            f"SELECT {_columns(reference_columns)} FROM {quote('AUDIT_HEADER')} "
            f"WHERE {quote('TYPE')} IN ({document_types}) AND {changed_since}"
        )
        for row in self.ordered_rows(header_sql, reference_columns, during="reading changed ledger entries"):
            references.update(_references(row[0], row[1]))
        receipt_types = ", ".join(f"'{kind}'" for kind in RECEIPT_TYPES)
        usage_sql = (
            f"SELECT {quote('SPLIT_NUMBER')} FROM {quote('AUDIT_USAGE')} "
            f"WHERE {quote('TYPE')} IN ({receipt_types}) AND {changed_since}"
        )
        splits = sorted(
            {row["SPLIT_NUMBER"] for row in self.rows(usage_sql, during="reading allocations")} - {None}
        )
        split_sql = (
            f"SELECT {_columns(('HEADER_NUMBER',))} FROM {quote('AUDIT_SPLIT')} "
            f"WHERE {quote('SPLIT_NUMBER')} {IN_VALUES}"
        )
        headers = sorted(
            {row["HEADER_NUMBER"] for row in self.rows_in(split_sql, splits, during="reading ledger splits")}
            - {None}
        )
        sql = (
            f"SELECT {_columns(reference_columns)} FROM {quote('AUDIT_HEADER')} "
            f"WHERE {quote('TYPE')} IN ({document_types}) AND {quote('HEADER_NUMBER')} {IN_VALUES}"
        )
        for row in self.ordered_rows_in(
            sql, reference_columns, headers, during="reading changed ledger entries"
        ):
            references.update(_references(row[0], row[1]))
        return references

    def _invoice_page(self, page: list[_Row]) -> Iterator[ReadItem]:
        """Convert one page of INVOICE rows, fetching their lines, ledger headers and receipts in bulk."""
        if not page:
            return
        if self._currency_list is None:
            self._currency_list = self._currencies()
        numbers = [row[_I_NUMBER] for row in page if isinstance(row[_I_NUMBER], int)]
        lines = self._lines_for(numbers)
        headers, unreadable = self._headers_for(numbers)
        usage = self._receipts_for([h[_H_NUMBER] for found in headers.values() for h in found])
        known = self._known if self._known is not None and self._known.entity == "invoices" else None
        digests: dict[str, str] = {}  # invoice number -> digest of its rows
        if known is not None:
            digests = self._digests(page, lines, headers, usage, unreadable, known)
            kept = known.kept(list(digests))
            unchanged = {key for key, row_digest in digests.items() if kept.get(key) == row_digest}
            if unchanged:
                for key in digests:  # in the page's order
                    if key in unchanged:
                        yield Unchanged("invoices", key)
                page = [
                    row
                    for row in page
                    if type(row[_I_NUMBER]) is not int or str(row[_I_NUMBER]) not in unchanged
                ]
        for start in range(0, len(page), _AT_ONCE):
            batch = page[start : start + _AT_ONCE]
            prepared = self._prepared_lines(_lines_of(batch, lines))
            keys, kinds, quick = self._quick_invoices(batch)
            for row, key, kind, cells in zip(batch, keys, kinds, quick, strict=True):
                if key is OFF:  # converted here, where it always was: an error here stops the page as before
                    key = text(row[_I_NUMBER])
                if kind is OFF:
                    kind = _document_kind(row[_I_KIND])
                if kind == "other":
                    continue  # quotes and pro-formas are not invoices yet
                try:
                    if key in unreadable:  # whose ledger entry it is cannot be told: not read, not guessed
                        raise RowProblem(unreadable[key])
                    if cells is not None and (cells[0] in prepared or cells[0] not in lines):
                        record: Record | SourceProblem = self._quick_invoice(
                            row, key, kind, cells, prepared.get(cells[0], ()), headers, usage
                        )
                    else:
                        record = self._invoice(row, key, kind, lines, headers, usage, prepared)
                except CONVERSION_ERRORS as exc:
                    record = row_problem(
                        "invoices",
                        key,
                        exc,
                        what="Invoice" if kind != "credit" else "Credit note",
                        modified=partial(when, row[_I_MODIFIED], self.local_zone, "modified date"),
                    )
                if known is not None and key in digests:
                    known.note(key, digests[key])
                yield record

    def _digests(
        self,
        page: list[_Row],
        lines: dict[int, list[_Row]],
        headers: dict[tuple[str, str], list[_Row]],
        usage: dict[Any, list[_Row]],
        unreadable: dict[str, str],
        known: KnownRows,
    ) -> dict[str, str]:
        """The digest of each invoice row of ``page`` by its number: the invoice's own cells, its line
        rows, the ledger entries ``_ledger`` looks at (by account and number) and their receipts, salted
        with the currency list. A row whose number or account cannot be read gets none (it is converted)."""
        salt = hashlib.blake2b(
            known.salt + repr(sorted((self._currency_list or {}).items())).encode(), digest_size=32
        ).digest()
        found: dict[str, str] = {}
        for row in page:
            number = row[_I_NUMBER]
            if type(number) is not int:
                continue
            key = str(number)
            if key in unreadable:
                continue
            try:
                account = text(row[_I_ACCOUNT]).upper()
            except CONVERSION_ERRORS:
                continue
            entries = headers.get((account, key), ())
            cells = (
                tuple(row),
                [tuple(line) for line in lines.get(number, ())],
                [tuple(entry) for entry in entries],
                [[tuple(receipt) for receipt in usage.get(entry[_H_NUMBER], ())] for entry in entries],
            )
            row_digest = digest(salt, cells)
            if row_digest:
                found[key] = row_digest
        return found

    def _quick_invoices(self, page: list[_Row]) -> tuple[list[Any], list[Any], list[_QuickInvoice | None]]:
        """For each INVOICE row: its key and document kind (OFF: ``_invoice_page`` works it out itself),
        and its own cells as ``_invoice`` converts them in the base currency, or None where any of them is
        off the quick paths, the currency is not the base one, or the invoice number is not a whole number:
        those rows go through ``_invoice``.

        A cell is converted here only as ``_invoice``'s quick path would, so what is here raised nothing in
        ``_invoice`` either; its carriage, ledger and receipts are still converted by ``_invoice``'s code.
        """
        count = len(page)
        cells = list(zip(*page, strict=True))
        numbers = [number if type(number) is int else OFF for number in cells[_I_NUMBER]]
        keys = text_column(cells[_I_NUMBER])
        kinds = self._document_kinds(cells[_I_KIND])
        currency_cells = cells[_I_CURRENCY]
        if set(map(type, currency_cells)) == ONLY_NULLS:
            currencies: list[Any] = [None] * count  # no currency: the base one, as _document_currency says
        else:
            currencies = [None if self._in_base_currency(row) else OFF for row in page]
        columns = [
            numbers,
            text_column(cells[_I_ACCOUNT]),  # customer_key, also required: "" goes to _invoice
            money_column(cells[_I_GROSS[False]]),
            [True if code is None else code != 0 if type(code) is int else OFF for code in cells[_I_POSTED]],
            money_column(cells[_I_CARRIAGE_NET[False]], empty=_ZERO),
            money_column(cells[_I_CARRIAGE_TAX[False]], empty=_ZERO),
            aware_column(cells[_I_DATE], self.local_zone),
            money_column(cells[_I_NET[False]]),
            money_column(cells[_I_TAX[False]], empty=_ZERO),
            aware_column(cells[_I_DUE_DATE], self.local_zone, empty=None),
            text_column(cells[_I_ORDER_NUMBER]),
            [
                False if cell is None else cell != 0 if type(cell) is int else OFF
                for cell in cells[_I_DELETED]
            ],
            aware_column(cells[_I_MODIFIED], self.local_zone, empty=None),
            currencies,
        ]
        slow = off_rows(columns)
        if "" in columns[1]:  # required_text: no account reference is _invoice's error to word
            slow.update(at for at, account in enumerate(columns[1]) if account == "")
        quick: list[_QuickInvoice | None] = list(zip(*columns, strict=True))
        for at in slow:
            quick[at] = None
        return keys, kinds, quick

    @staticmethod
    def _document_kinds(cells: Sequence[Any]) -> list[Any]:
        """``_document_kind`` of each cell, worked out once per distinct value when they are all printable
        text or all whole numbers (it cannot fail on those); OFF where ``_invoice_page`` asks it per row."""
        kinds = set(map(type, cells))
        if (kinds == ONLY_TEXT and all(map(str.isprintable, cells))) or kinds == ONLY_INTS:
            known = {value: _document_kind(value) for value in set(cells)}
            return list(map(known.__getitem__, cells))
        return [OFF] * len(cells)

    def _in_base_currency(self, row: _Row) -> bool:
        """Whether ``_document_currency`` gives ('', None) for the row without raising."""
        try:
            return self._document_currency(row) == ("", None)
        except CONVERSION_ERRORS:
            return False

    def _quick_invoice(
        self,
        row: _Row,
        key: str,
        kind: str,
        cells: _QuickInvoice,
        invoice_lines: tuple[InvoiceLine, ...],
        headers: dict[tuple[str, str], list[_Row]],
        usage: dict[Any, list[_Row]],
    ) -> Invoice:
        """``_invoice`` for a base-currency row whose own cells ``_quick_invoices`` converted and whose lines
        ``_quick_lines`` did. What could still fail (the carriage's codes, the ledger and its receipts) is
        converted by ``_invoice``'s own code in ``_invoice``'s order, and nothing before it can fail, so
        an error is the one ``_invoice`` raises first."""
        (
            _,
            customer_key,
            gross,
            posted,
            carriage_net,
            carriage_tax,
            date,
            net,
            tax,
            due_date,
            reference,
            deleted,
            modified,
            _,
        ) = cells
        is_credit = kind == "credit"
        gross = _signed(gross, is_credit)
        lines = list(invoice_lines)
        if carriage_net or carriage_tax:  # both zero: _carriage gives None without reading its codes
            carriage = self._carriage(row, False, lines)
            if carriage is not None:
                lines.append(carriage)
        ledger, payments, amount_paid, outstanding, paid_date = self._ledger(
            key, customer_key, is_credit, False, gross, headers, usage
        )
        if ledger or payments:
            zone = self.local_zone
            modified = latest(
                modified,
                *[_when(h[_H_MODIFIED], zone, "ledger modified date") for h in ledger],
                *[p.modified for p in payments],
            )
        return Invoice(
            key,
            key,  # number
            customer_key,
            date,
            tuple(lines),
            _signed(net, is_credit),
            _signed(tax, is_credit),
            gross,
            due_date,
            is_credit,
            amount_paid,
            outstanding,
            paid_date,
            "",  # currency: the base one
            None,  # exchange_rate
            posted,
            reference,
            tuple(payments),
            deleted,
            modified,
        )

    def _currencies(self) -> dict[int, tuple[str, bool]]:
        """CURRENCY.NUMBER -> (ISO code, is the base currency); empty when the table cannot be read."""
        found: dict[int, tuple[str, bool]] = {}
        sql = f"SELECT {_columns(CURRENCY_COLUMNS)} FROM {quote('CURRENCY')}"
        try:
            for row in self.rows(sql, during="reading the currency list"):
                if isinstance(row.get("NUMBER"), int | float):
                    found[int(row["NUMBER"])] = (
                        text(row.get("CODE")).upper(),
                        flag_or_false(row.get("BASE_CURRENCY")),
                    )
        except ConfigError:
            return {}
        return found

    def _document_currency(self, row: _Row) -> tuple[str, Decimal | None]:
        """('', None) for a base-currency document, else (ISO code, FOREIGN_RATE).

        CURRENCY 0 / NULL (older data) and 1 without a currency list count as the base currency.
        """
        number = row[_I_CURRENCY]
        if number is None or number == 0:
            return "", None
        currencies = self._currency_list or {}
        if not currencies and number == 1:
            return "", None
        code, is_base = currencies.get(int(number), ("", False))
        if is_base:
            return "", None
        if not code:
            raise RowProblem(
                f"its currency (number {number}) is not in Sage's currency list (Settings > Currencies)"
            )
        return code, amount(row[_I_FOREIGN_RATE], "exchange rate", places=Decimal("0.000001"))

    def _lines_for(self, numbers: list[int]) -> dict[int, list[_Row]]:
        found: dict[int, list[_Row]] = defaultdict(list)
        sql = (
            f"SELECT {_columns(LINE_COLUMNS)} FROM {quote('INVOICE_ITEM')} "
            f"WHERE {quote('INVOICE_NUMBER')} {IN_VALUES} "
            f"ORDER BY {quote('INVOICE_NUMBER')}, {quote('ITEM_NUMBER')}"
        )
        for row in self.ordered_rows_in(sql, LINE_COLUMNS, numbers, during="reading invoice lines"):
            found[row[_L_INVOICE_NUMBER]].append(row)
        return found

    def _headers_for(self, numbers: list[int]) -> tuple[dict[tuple[str, str], list[_Row]], dict[str, str]]:
        """AUDIT_HEADER rows (SI/SC, not deleted) by (ACCOUNT_REF, the invoice number they refer to), and
        the problem of each invoice a header with an unreadable ACCOUNT_REF refers to.

        One statement per chunk covers both look-ups: ``INV_REF IN (text values) OR ISP_REFERENCE IN
        (integers)``, each column compared with values of its own type (INV_REF is VARCHAR, ISP_REFERENCE
        INTEGER), each list at most ``MAX_IN_LIST`` values as before. A header both look-ups find comes once
        (it is kept by HEADER_NUMBER). Keyed by account too: another customer's entry with the same reference
        is not this invoice's. So a header whose account cannot be read (text in no character set we can
        decode) cannot be told to be the invoice's or another customer's: the invoices it refers to are
        row problems (read again once it is corrected), rather than invoices read without their ledger,
        which would show them unpaid, or a whole stream stopped.
        """
        found: dict[tuple[str, str], dict[Any, _Row]] = defaultdict(dict)
        unreadable: dict[str, str] = {}  # invoice number -> why it cannot be read
        document_types = ", ".join(f"'{kind}'" for kind in DOCUMENT_TYPES)
        wanted = {str(number) for number in numbers}
        select = (
            f"SELECT {_columns(HEADER_COLUMNS)} FROM {quote('AUDIT_HEADER')} "
            f"WHERE {quote('TYPE')} IN ({document_types}) AND "
        )
        for chunk in chunks(numbers):
            marks = placeholders(len(chunk))
            sql = f"{select}({quote('INV_REF')} IN ({marks}) OR {quote('ISP_REFERENCE')} IN ({marks}))"
            values = [*(str(number) for number in chunk), *chunk]
            for row in self.ordered_rows(sql, HEADER_COLUMNS, values, during="reading ledger entries"):
                if flag_or_false(row[_H_DELETED]):
                    continue
                references = _references(row[_H_INV_REF], row[_H_ISP_REFERENCE]) & wanted
                try:
                    account = text(row[_H_ACCOUNT]).upper()
                except RowProblem as exc:
                    problem = f"its ledger entry (audit trail transaction {row[_H_NUMBER]}): {exc}"
                    for reference in references:
                        unreadable.setdefault(reference, problem)
                    continue
                for reference in references:
                    found[(account, reference)][row[_H_NUMBER]] = row
        return {reference: list(rows.values()) for reference, rows in found.items()}, unreadable

    def _receipts_for(self, header_numbers: list[Any]) -> dict[Any, list[_Row]]:
        """Receipt allocations (AUDIT_USAGE) by the ledger header of the invoice they pay."""
        split_header: dict[Any, Any] = {}
        split_columns = ("SPLIT_NUMBER", "HEADER_NUMBER")
        sql = (
            f"SELECT {_columns(split_columns)} FROM {quote('AUDIT_SPLIT')} "
            f"WHERE {quote('HEADER_NUMBER')} {IN_VALUES}"
        )
        wanted = sorted(set(header_numbers) - {None})
        for split, header in self.ordered_rows_in(sql, split_columns, wanted, during="reading ledger splits"):
            split_header[split] = header
        found: dict[Any, list[_Row]] = defaultdict(list)
        receipt_types = ", ".join(f"'{kind}'" for kind in RECEIPT_TYPES)
        sql = (
            f"SELECT {_columns(USAGE_COLUMNS)} FROM {quote('AUDIT_USAGE')} "
            f"WHERE {quote('TYPE')} IN ({receipt_types}) AND {quote('SPLIT_NUMBER')} {IN_VALUES} "
            f"ORDER BY {quote('USAGE_NUMBER')}"
        )
        for row in self.ordered_rows_in(sql, USAGE_COLUMNS, sorted(split_header), during="reading receipts"):
            if not flag_or_false(row[_U_DELETED]):
                found[split_header[row[_U_SPLIT_NUMBER]]].append(row)
        return found

    def _invoice(
        self,
        row: _Row,
        key: str,
        kind: str,
        lines: dict[int, list[_Row]],
        headers: dict[tuple[str, str], list[_Row]],
        usage: dict[Any, list[_Row]],
        prepared: dict[int, tuple[InvoiceLine, ...]] | None = None,
    ) -> Invoice:
        number = row[_I_NUMBER]
        if not isinstance(number, int):
            raise RowProblem("the invoice number is not a whole number")
        is_credit = kind == "credit"
        zone = self.local_zone
        customer_key = required_text(row[_I_ACCOUNT], "customer account reference")
        currency, exchange_rate = self._document_currency(row)
        foreign = bool(currency)
        gross = _signed(_money(row, _I_GROSS, "gross total", foreign), is_credit)
        posted_code = row[_I_POSTED]
        posted = flag(posted_code) if posted_code is not None else True
        quick = None if foreign or prepared is None else prepared.get(number)
        if quick is not None:  # each is what _line(cells, False) gives (``_quick_lines``)
            invoice_lines = list(quick)
        else:
            line = self._line
            invoice_lines = [line(cells, foreign) for cells in lines.get(number, ())]
        carriage = self._carriage(row, foreign, invoice_lines)
        if carriage is not None:
            invoice_lines.append(carriage)
        ledger, payments, amount_paid, outstanding, paid_date = self._ledger(
            key, customer_key, is_credit, foreign, gross, headers, usage
        )
        value = row[_I_DATE]
        # Positional, as in _line: the cells are still converted in the order they always were.
        return Invoice(
            key,
            key,  # number
            customer_key,
            quick_aware(value, zone) or required_when(value, zone, "invoice date"),  # date
            tuple(invoice_lines),
            _signed(_money(row, _I_NET, "net total", foreign), is_credit),  # net
            _signed(_money(row, _I_TAX, "VAT total", foreign, _ZERO), is_credit),  # tax
            gross,
            _when(row[_I_DUE_DATE], zone, "due date"),  # due_date
            is_credit,
            amount_paid,
            outstanding,
            paid_date,
            currency,
            exchange_rate,
            posted,
            text(row[_I_ORDER_NUMBER]),  # reference
            tuple(payments),
            flag(row[_I_DELETED]),  # deleted
            latest(  # modified
                _when(row[_I_MODIFIED], zone, "modified date"),
                *[_when(h[_H_MODIFIED], zone, "ledger modified date") for h in ledger],
                *[p.modified for p in payments],
            ),
        )

    def _ledger(
        self,
        key: str,
        customer_key: str,
        is_credit: bool,
        foreign: bool,
        gross: Decimal,
        headers: dict[tuple[str, str], list[_Row]],
        usage: dict[Any, list[_Row]],
    ) -> tuple[list[_Row], list[Payment], Decimal, Decimal | None, datetime | None]:
        """An invoice's ledger headers, its receipts, the paid and outstanding amounts they give, and the
        date it was paid in full (its last receipt's) if it was.

        One method for ``_invoice`` and ``_quick_invoice``: both convert the ledger's cells with this code, in
        this order, so a bad ledger cell gives the same error whichever way the invoice row went."""
        ledger = [
            h
            for h in headers.get((customer_key.upper(), key), ())
            if text(h[_H_TYPE]).upper() == ("SC" if is_credit else "SI")
        ]
        payments: list[Payment] = []
        for header in ledger:
            for allocation in usage.get(header[_H_NUMBER], ()):
                payments.append(self._payment(allocation, key, customer_key, foreign))
        if len(payments) > 1:
            payments.sort(key=lambda payment: (payment.date, payment.key))
        if not ledger:
            return ledger, payments, _ZERO, None, None  # nothing outstanding is known: not paid in full
        # The ledger stores credit notes with negative amounts; the record carries them positive.
        sign = _MINUS if is_credit else _PLUS
        paid_at, outstanding_at = _H_PAID[foreign], _H_OUTSTANDING[foreign]
        paid_total = outstanding_total = _ZERO
        for h in ledger:
            paid_total += amount(h[paid_at], "amount paid")
        for h in ledger:
            outstanding_total += amount(h[outstanding_at], "outstanding amount")
        outstanding = sign * outstanding_total
        paid_date = max((p.date for p in payments), default=None) if outstanding == 0 and gross else None
        return ledger, payments, sign * paid_total, outstanding, paid_date

    @staticmethod
    def _carriage(row: _Row, foreign: bool, lines: list[InvoiceLine]) -> InvoiceLine | None:
        """The header's carriage as one more line, so the lines add up to INVOICE_GROSS."""
        net = _money(row, _I_CARRIAGE_NET, "carriage net amount", foreign, _ZERO)
        tax = _money(row, _I_CARRIAGE_TAX, "carriage VAT", foreign, _ZERO)
        if not net and not tax:
            return None
        return InvoiceLine(
            number=max((line.number for line in lines), default=0) + 1,
            description="Carriage",
            quantity=Decimal("1.0000"),
            unit_price=net,
            net=net,
            tax=tax,
            tax_code=text(row[_I_CARRIAGE_TAX_CODE]).upper(),
            nominal_code=text(row[_I_CARRIAGE_NOMINAL]),
            kind="carriage",
        )

    @staticmethod
    def _quick_lines(rows: Sequence[_Row]) -> tuple[list[InvoiceLine | None], set[int]]:
        """What ``_line(row, False)`` gives for each row the column converters can answer, None for the
        rest (their positions are the set): the same records, a column at a time instead of a call per cell.

        Every cell ``_line`` converts is converted here by its quick path or marked OFF; a row with an OFF
        cell is left to ``_line``, so its error is ``_line``'s. Where ``_line`` reads a cell only sometimes
        (TEXT, when DESCRIPTION is empty), so does this. A row converted here raised nothing in ``_line``
        either (every cell took a quick path there too), so the order ``_line`` reads them in does not show.
        """
        count = len(rows)
        if not count:
            return [], set()
        cells = list(zip(*rows, strict=True))
        descriptions = text_column(cells[_L_DESCRIPTION])
        if "" in descriptions:  # ``text(DESCRIPTION) or text(TEXT)``: TEXT is read only for these lines
            # (str == str, and OFF has no __eq__ of its own: this scan asks no ABC)
            texts = cells[_L_TEXT]
            descriptions = [
                quick_text(texts[at]) if found == "" else found for at, found in enumerate(descriptions)
            ]
        columns = _LineColumns(
            line_numbers=[
                number if type(number) is int else 0 if number is None else OFF
                for number in cells[_L_ITEM_NUMBER]
            ],
            descriptions=descriptions,
            quantities=money_column(cells[_L_QUANTITY], QUANTITY_PLACES),
            # NULL unit price: the net (per line, left to _line)
            unit_prices=money_column(cells[_L_UNIT_PRICE[False]]),
            nets=money_column(cells[_L_NET[False]]),
            taxes=money_column(cells[_L_TAX[False]], empty=_ZERO),  # NULL: what amount's default gives
            stock_codes=text_column(cells[_L_STOCK_CODE]),
            tax_codes=text_column(cells[_L_TAX_CODE]),
            tax_rates=money_column(cells[_L_TAX_RATE], RATE_PLACES, empty=None),  # NULL: no rate, no error
            nominal_codes=text_column(cells[_L_NOMINAL_CODE]),
        )
        slow = off_rows(columns)
        quick = _LineColumns(*without_rows(list(columns), slow, count))
        stock_codes, nets = quick.stock_codes, quick.nets
        upper_codes = list(map(str.upper, stock_codes))
        item_keys = (
            stock_codes
            if NON_STOCK_CODES.isdisjoint(upper_codes)
            else [
                "" if upper in NON_STOCK_CODES else code
                for upper, code in zip(upper_codes, stock_codes, strict=True)
            ]
        )
        if MESSAGE_CODE not in upper_codes and (not nets or min(nets) >= 0):
            kinds = ["item"] * len(nets)  # no message line, no negative net: what _line's test gives each
        else:
            kinds = [
                "text" if upper == MESSAGE_CODE and not net else "discount" if net < 0 else "item"
                for upper, net in zip(upper_codes, nets, strict=True)
            ]
        lines: list[InvoiceLine | None] = list(
            map(
                InvoiceLine,  # positional, in _line's order
                quick.line_numbers,
                quick.descriptions,
                quick.quantities,
                quick.unit_prices,
                nets,
                quick.taxes,
                item_keys,
                list(map(str.upper, quick.tax_codes)),
                quick.tax_rates,
                quick.nominal_codes,
                kinds,
            )
        )
        if not slow:
            return lines, slow
        built = iter(lines)
        return [None if at in slow else next(built) for at in range(count)], slow

    def _prepared_lines(self, lines: dict[int, list[_Row]]) -> dict[int, tuple[InvoiceLine, ...]]:
        """The lines of each invoice whose every line ``_quick_lines`` converted (in the base currency);
        the other invoices are not here, and ``_invoice`` converts their lines one by one as before."""
        rows = [row for group in lines.values() for row in group]
        converted, slow = self._quick_lines(rows)
        left_out = {rows[at][_L_INVOICE_NUMBER] for at in slow}
        prepared: dict[int, tuple[InvoiceLine, ...]] = {}
        start = 0
        for number, group in lines.items():
            end = start + len(group)
            if number not in left_out:
                prepared[number] = tuple(converted[start:end])  # type: ignore[arg-type]  # no None here
            start = end
        return prepared

    def _line(self, row: _Row, foreign: bool) -> InvoiceLine:
        """One INVOICE_ITEM row. A cell's label (``line 3``) is built only when ``quick_decimal`` leaves the
        cell to the reference conversion, which words its error: most lines need none. The cells are read in
        the order they always were, so a line with two bad cells names the same one."""
        number = row[_L_ITEM_NUMBER]
        value = row[_L_NET[foreign]]
        net = quick_decimal(value)
        if net is None:
            net = _money_of(value, f"net amount of line {number}", foreign)
        stock_code = text(row[_L_STOCK_CODE])
        line_number = int(number) if number is not None else 0
        description = text(row[_L_DESCRIPTION]) or text(row[_L_TEXT])
        value = row[_L_QUANTITY]
        quantity = quick_decimal(value, QUANTITY_PLACES)
        if quantity is None:
            quantity = amount(value, f"quantity of line {number}", places=QUANTITY_PLACES)
        value = row[_L_UNIT_PRICE[foreign]]
        unit_price = quick_decimal(value)
        if unit_price is None:
            unit_price = _money_of(value, f"unit price of line {number}", foreign, net)
        value = row[_L_TAX[foreign]]
        tax = quick_decimal(value)
        if tax is None:
            tax = _money_of(value, f"VAT of line {number}", foreign, _ZERO)
        upper_code = stock_code.upper()
        tax_code = text(row[_L_TAX_CODE]).upper()
        value = row[_L_TAX_RATE]
        tax_rate = None if value is None else quick_decimal(value, RATE_PLACES)
        if tax_rate is None and value is not None:
            tax_rate = rate(value, f"VAT rate of line {number}")
        # Positional: a class called with keywords costs a dict per call (a fifth of a line's time here).
        return InvoiceLine(
            line_number,  # number
            description,
            quantity,
            unit_price,
            net,
            tax,
            "" if upper_code in NON_STOCK_CODES else stock_code,  # item_key
            tax_code,
            tax_rate,
            text(row[_L_NOMINAL_CODE]),  # nominal_code
            "text" if upper_code == MESSAGE_CODE and not net else "discount" if net < 0 else "item",  # kind
        )

    def _payment(self, row: _Row, invoice_key: str, customer_key: str, foreign: bool) -> Payment:
        usage_number = text(row[_U_USAGE_NUMBER])
        kind = text(row[_U_TYPE]).upper()
        value = row[_U_AMOUNT[foreign]]
        paid = quick_decimal(value)
        if paid is None:
            paid = _money_of(value, f"amount of receipt {usage_number}", foreign)
        key = required_text(usage_number, "allocation number")
        zone = self.local_zone
        value = row[_U_DATE]
        return Payment(  # positional, as in _line
            key,
            invoice_key,
            customer_key,
            quick_aware(value, zone) or required_when(value, zone, f"date of receipt {usage_number}"),  # date
            abs(paid),  # amount
            _PAYMENT_METHODS.get(kind, kind),  # method
            text(row[_U_REFERENCE]),  # reference
            _when(row[_U_MODIFIED], zone, "receipt modified date"),  # modified
        )


def _lines_of(invoices: Sequence[_Row], lines: dict[int, list[_Row]]) -> dict[int, list[_Row]]:
    """The line rows of ``invoices`` (those with a whole invoice number, the others go through _invoice)."""
    numbers = [row[_I_NUMBER] for row in invoices]
    return {number: lines[number] for number in numbers if type(number) is int and number in lines}


def _money(
    row: _Row, at: tuple[int, int], label: str, foreign: bool, default: Decimal | None = None
) -> Decimal:
    """A money column in the document's currency: its FOREIGN_ twin (``at[1]``) for a foreign-currency
    document. A foreign document whose FOREIGN_ value is missing is a row problem, never a silent pound
    amount."""
    value = row[at[foreign]]
    found = quick_decimal(value)
    if found is not None:
        return found
    if value is None and default is not None:
        return default  # what amount gives for an empty cell with a default (Sage's NULL carriage)
    return _money_of(value, label, foreign, default)


def _money_of(value: object, label: str, foreign: bool, default: Decimal | None = None) -> Decimal:
    """The reference conversion of a money cell, its error naming the document's currency when foreign."""
    if not foreign:
        return amount(value, label, default=default)
    return amount(value, f"{label} in the document's currency", default=default)


def _when(value: object, zone: tzinfo | None, label: str) -> datetime | None:
    """``when``, one call shorter for the naive timestamps Sage sends (a datetime is never false)."""
    return quick_aware(value, zone) or when(value, zone, label)


def _address(row: dict[str, Any], columns: tuple[str, ...], country: str) -> Address:
    """Sage's five address lines: street, street, town, county, postcode (by convention, not enforced)."""
    street, street_2, city, region, postcode = [text(row.get(column)) for column in columns]
    if not (street or street_2 or city or region or postcode):
        return Address()
    return Address(
        lines=tuple(part for part in (street, street_2) if part),
        city=city,
        region=region,
        postcode=postcode,
        country=country,
    )


def _document_kind(value: object) -> str:
    """'invoice', 'credit' or 'other' (quote / pro-forma) from INVOICE_OR_CREDIT (text or code)."""
    if value is None:
        return "invoice"
    if type(value) is int or isinstance(value, int | float):  # the exact type first: quicker told
        return _DOCUMENT_CODES.get(value, "other")  # NaN / infinity / other codes: not an invoice
    word = text(value).lower()
    if word.startswith("cred"):
        return "credit"
    if word.startswith("inv") or not word:
        return "invoice"
    return "other"


def _references(inv_ref: object, isp: object) -> set[str]:
    """The invoice numbers a ledger header names: INV_REF (text), ISP_REFERENCE (an integer, 0 = none).

    An INV_REF in no character set we can decode names no invoice (an invoice number is digits), so it is
    left out rather than stopping the read: the header is still found by its ISP_REFERENCE.
    """
    reference = readable_text(inv_ref)
    found = {reference} if reference is not None else set()
    if type(isp) is int:  # what Sage's driver sends: the common case first
        if isp:
            found.add(str(isp))
    elif isinstance(isp, int | float) and isp:
        found.add(str(int(isp)))
    elif isinstance(isp, str) and isp.strip() not in ("", "0"):
        found.add(isp.strip())
    found.discard("")
    return found


def _number_order(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (0, value)


def _signed(value: Decimal, is_credit: bool) -> Decimal:
    """Credit notes carry positive amounts (the flag says what they are), whatever sign Sage stored."""
    return abs(value) if is_credit else value


def _driver_name(connection: Any) -> str:
    getinfo = getattr(connection, "getinfo", None)
    if getinfo is None:
        return ""
    try:
        import pyodbc

        return text(getinfo(pyodbc.SQL_DRIVER_NAME))
    except Exception:  # a driver that cannot describe itself is still usable
        return ""
