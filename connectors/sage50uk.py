"""Sage 50 UK (Sage Accounts, ex-Line 50) read through its SageLine50 ODBC driver.

Why: Sage's ODBC driver is the one free, supported way to read a UK company's books. It is read-only, slow,
keeps DOUBLE money and naive local timestamps, and calls a column TYPE or DATE. This module knows the real
table and column names (accounting-packages.md section 1.2) and turns rows into canonical records, a page at
a time: invoice lines, ledger headers and allocations are fetched per page of invoices with short IN (...)
lists, so memory stays flat however large the books are.

How an invoice's paid state is found (stand-in semantics derived from the reference, to check on a real
install): the invoicing-module INVOICE row reaches the ledger as an AUDIT_HEADER of TYPE 'SI' (credit note:
'SC') whose INV_REF (or ISP_REFERENCE) is the invoice number; that header's OUTSTANDING / AMOUNT_PAID give the
paid state. Its AUDIT_SPLIT rows carry the allocations: an AUDIT_USAGE row whose SPLIT_NUMBER is the invoice's
split and whose TYPE is 'SR' (receipt) or 'SA' (payment on account) is one payment, keyed by USAGE_NUMBER.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from connectors.base import IN_VALUES, ConnectionCheck, Connector, StreamSpec, TableUse
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
from core.errors import ConfigError, LedgerBridgeError
from core.records import (
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

    def read(self, stream: EntityName, since: datetime | None = None) -> Iterator[Record | SourceProblem]:
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

    def _read_tax_rates(self) -> Iterator[Record | SourceProblem]:
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

    def _read_invoices(self, since: datetime | None) -> Iterator[Record | SourceProblem]:
        self._currency_list = None
        where = self._since(since)
        sql = (
            f"SELECT {_columns(INVOICE_COLUMNS)} FROM {quote('INVOICE')}{where} "
            f"ORDER BY {quote('INVOICE_NUMBER')}"
        )
        already_read: set[str] = set()
        for page in pages(self.rows(sql, during="reading invoices"), self.page_size):
            if since is not None:
                already_read.update(text(row.get("INVOICE_NUMBER")) for row in page)
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
        rows = self.rows_in(sql, numbers, during="reading paid invoices", size=self.page_size)
        for page in pages(rows, self.page_size):
            yield from self._invoice_page(page)

    def _invoices_changed_in_ledger(self, since: datetime) -> set[str]:
        """Invoice numbers whose AUDIT_HEADER or receipt allocations changed since (or carry no date)."""
        changed_since = self._changed_since(since)
        references: set[str] = set()
        document_types = ", ".join(f"'{kind}'" for kind in DOCUMENT_TYPES)
        header_sql = (
            f"SELECT {_columns(('INV_REF', 'ISP_REFERENCE'))} FROM {quote('AUDIT_HEADER')} "
            f"WHERE {quote('TYPE')} IN ({document_types}) AND {changed_since}"
        )
        for row in self.rows(header_sql, during="reading changed ledger entries"):
            references.update(_references(row))
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
            f"SELECT {_columns(('INV_REF', 'ISP_REFERENCE'))} FROM {quote('AUDIT_HEADER')} "
            f"WHERE {quote('TYPE')} IN ({document_types}) AND {quote('HEADER_NUMBER')} {IN_VALUES}"
        )
        for row in self.rows_in(sql, headers, during="reading changed ledger entries"):
            references.update(_references(row))
        return references

    def _invoice_page(self, page: list[dict[str, Any]]) -> Iterator[Record | SourceProblem]:
        """Convert one page of INVOICE rows, fetching their lines, ledger headers and receipts in bulk."""
        if not page:
            return
        if self._currency_list is None:
            self._currency_list = self._currencies()
        numbers = [row["INVOICE_NUMBER"] for row in page if isinstance(row.get("INVOICE_NUMBER"), int)]
        lines = self._lines_for(numbers)
        headers = self._headers_for(numbers)
        usage = self._receipts_for([h["HEADER_NUMBER"] for found in headers.values() for h in found])
        for row in page:
            key = text(row.get("INVOICE_NUMBER"))
            kind = _document_kind(row.get("INVOICE_OR_CREDIT"))
            if kind == "other":
                continue  # quotes and pro-formas are not invoices yet
            try:
                record: Record | SourceProblem = self._invoice(row, key, kind, lines, headers, usage)
            except CONVERSION_ERRORS as exc:
                record = row_problem(
                    "invoices",
                    key,
                    exc,
                    what="Invoice" if kind != "credit" else "Credit note",
                    modified=partial(when, row.get(MODIFIED), self.local_zone, "modified date"),
                )
            yield record

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

    def _document_currency(self, row: dict[str, Any]) -> tuple[str, Decimal | None]:
        """('', None) for a base-currency document, else (ISO code, FOREIGN_RATE).

        CURRENCY 0 / NULL (older data) and 1 without a currency list count as the base currency.
        """
        number = row.get("CURRENCY")
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
        return code, amount(row.get("FOREIGN_RATE"), "exchange rate", places=Decimal("0.000001"))

    def _lines_for(self, numbers: list[int]) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        sql = (
            f"SELECT {_columns(LINE_COLUMNS)} FROM {quote('INVOICE_ITEM')} "
            f"WHERE {quote('INVOICE_NUMBER')} {IN_VALUES} "
            f"ORDER BY {quote('INVOICE_NUMBER')}, {quote('ITEM_NUMBER')}"
        )
        for row in self.rows_in(sql, numbers, during="reading invoice lines"):
            found[row["INVOICE_NUMBER"]].append(row)
        return found

    def _headers_for(self, numbers: list[int]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """AUDIT_HEADER rows (SI/SC, not deleted) by (ACCOUNT_REF, the invoice number they refer to).

        One statement per chunk covers both look-ups: ``INV_REF IN (text values) OR ISP_REFERENCE IN
        (integers)``, each column compared with values of its own type (INV_REF is VARCHAR, ISP_REFERENCE
        INTEGER), each list at most ``MAX_IN_LIST`` values as before. A header both look-ups find comes once
        (it is kept by HEADER_NUMBER). Keyed by account too: another customer's entry with the same reference
        is not this invoice's.
        """
        found: dict[tuple[str, str], dict[Any, dict[str, Any]]] = defaultdict(dict)
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
            for row in self.rows(sql, values, during="reading ledger entries"):
                if flag_or_false(row.get("DELETED_FLAG")):
                    continue
                account = text(row.get("ACCOUNT_REF")).upper()
                for reference in _references(row) & wanted:
                    found[(account, reference)][row["HEADER_NUMBER"]] = row
        return {reference: list(rows.values()) for reference, rows in found.items()}

    def _receipts_for(self, header_numbers: list[Any]) -> dict[Any, list[dict[str, Any]]]:
        """Receipt allocations (AUDIT_USAGE) by the ledger header of the invoice they pay."""
        split_header: dict[Any, Any] = {}
        sql = (
            f"SELECT {_columns(('SPLIT_NUMBER', 'HEADER_NUMBER'))} FROM {quote('AUDIT_SPLIT')} "
            f"WHERE {quote('HEADER_NUMBER')} {IN_VALUES}"
        )
        for row in self.rows_in(sql, sorted(set(header_numbers) - {None}), during="reading ledger splits"):
            split_header[row["SPLIT_NUMBER"]] = row["HEADER_NUMBER"]
        found: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        receipt_types = ", ".join(f"'{kind}'" for kind in RECEIPT_TYPES)
        sql = (
            f"SELECT {_columns(USAGE_COLUMNS)} FROM {quote('AUDIT_USAGE')} "
            f"WHERE {quote('TYPE')} IN ({receipt_types}) AND {quote('SPLIT_NUMBER')} {IN_VALUES} "
            f"ORDER BY {quote('USAGE_NUMBER')}"
        )
        for row in self.rows_in(sql, sorted(split_header), during="reading receipts"):
            if not flag_or_false(row.get("DELETED_FLAG")):
                found[split_header[row["SPLIT_NUMBER"]]].append(row)
        return found

    def _invoice(
        self,
        row: dict[str, Any],
        key: str,
        kind: str,
        lines: dict[int, list[dict[str, Any]]],
        headers: dict[tuple[str, str], list[dict[str, Any]]],
        usage: dict[Any, list[dict[str, Any]]],
    ) -> Invoice:
        number = row.get("INVOICE_NUMBER")
        if not isinstance(number, int):
            raise RowProblem("the invoice number is not a whole number")
        is_credit = kind == "credit"
        zone = self.local_zone
        customer_key = required_text(row.get("ACCOUNT_REF"), "customer account reference")
        currency, exchange_rate = self._document_currency(row)
        foreign = bool(currency)
        gross = _signed(_money(row, "INVOICE_GROSS", "gross total", foreign), is_credit)
        posted = flag(row.get("POSTED_CODE")) if row.get("POSTED_CODE") is not None else True
        invoice_lines = [self._line(line, foreign) for line in lines.get(number, ())]
        carriage = self._carriage(row, foreign, invoice_lines)
        if carriage is not None:
            invoice_lines.append(carriage)
        ledger = [
            h
            for h in headers.get((customer_key.upper(), key), ())
            if text(h.get("TYPE")).upper() == ("SC" if is_credit else "SI")
        ]
        payments: list[Payment] = []
        for header in ledger:
            for allocation in usage.get(header["HEADER_NUMBER"], ()):
                payments.append(self._payment(allocation, key, customer_key, foreign))
        payments.sort(key=lambda payment: (payment.date, payment.key))
        if ledger:
            # The ledger stores credit notes with negative amounts; the record carries them positive.
            sign = Decimal(-1) if is_credit else Decimal(1)
            paid_column, outstanding_column = (
                ("FOREIGN_AMOUNT_PAID", "FOREIGN_OUTSTANDING") if currency else ("AMOUNT_PAID", "OUTSTANDING")
            )
            paid_total = outstanding_total = _ZERO
            for h in ledger:
                paid_total += amount(h.get(paid_column), "amount paid")
            for h in ledger:
                outstanding_total += amount(h.get(outstanding_column), "outstanding amount")
            amount_paid = sign * paid_total
            outstanding: Decimal | None = sign * outstanding_total
        else:
            amount_paid, outstanding = Decimal("0.00"), None
        paid_date = max((p.date for p in payments), default=None) if outstanding == 0 and gross else None
        return Invoice(
            key=key,
            number=key,
            customer_key=customer_key,
            date=required_when(row.get("INVOICE_DATE"), zone, "invoice date"),
            lines=tuple(invoice_lines),
            net=_signed(_money(row, "INVOICE_NET", "net total", foreign), is_credit),
            tax=_signed(_money(row, "INVOICE_TAX", "VAT total", foreign, _ZERO), is_credit),
            gross=gross,
            due_date=when(row.get("PAYMENT_DUE_DATE"), zone, "due date"),
            is_credit=is_credit,
            amount_paid=amount_paid,
            outstanding=outstanding,
            paid_date=paid_date,
            currency=currency,
            exchange_rate=exchange_rate,
            posted=posted,
            reference=text(row.get("CUST_ORDER_NUMBER")),
            payments=tuple(payments),
            deleted=flag(row.get("RECORD_DELETED")),
            modified=latest(
                when(row.get(MODIFIED), zone, "modified date"),
                *(when(h.get(MODIFIED), zone, "ledger modified date") for h in ledger),
                *(p.modified for p in payments),
            ),
        )

    @staticmethod
    def _carriage(row: dict[str, Any], foreign: bool, lines: list[InvoiceLine]) -> InvoiceLine | None:
        """The header's carriage as one more line, so the lines add up to INVOICE_GROSS."""
        net = _money(row, "CARR_NET", "carriage net amount", foreign, _ZERO)
        tax = _money(row, "CARR_TAX", "carriage VAT", foreign, _ZERO)
        if not net and not tax:
            return None
        return InvoiceLine(
            number=max((line.number for line in lines), default=0) + 1,
            description="Carriage",
            quantity=Decimal("1.0000"),
            unit_price=net,
            net=net,
            tax=tax,
            tax_code=text(row.get("CARR_TAX_CODE")).upper(),
            nominal_code=text(row.get("CARR_NOM_CODE")),
            kind="carriage",
        )

    def _line(self, row: dict[str, Any], foreign: bool) -> InvoiceLine:
        number = row.get("ITEM_NUMBER")
        label = f"line {number}"
        net = _money(row, "NET_AMOUNT", f"net amount of {label}", foreign)
        stock_code = text(row.get("STOCK_CODE"))
        tax_rate_value = row.get("TAX_RATE")
        is_message = stock_code.upper() == MESSAGE_CODE
        return InvoiceLine(
            number=int(number) if number is not None else 0,
            description=text(row.get("DESCRIPTION")) or text(row.get("TEXT")),
            quantity=amount(row.get("QUANTITY"), f"quantity of {label}", places=QUANTITY_PLACES),
            unit_price=_money(row, "UNIT_PRICE", f"unit price of {label}", foreign, net),
            net=net,
            tax=_money(row, "TAX_AMOUNT", f"VAT of {label}", foreign, _ZERO),
            item_key="" if stock_code.upper() in NON_STOCK_CODES else stock_code,
            tax_code=text(row.get("TAX_CODE")).upper(),
            tax_rate=None if tax_rate_value is None else rate(tax_rate_value, f"VAT rate of {label}"),
            nominal_code=text(row.get("NOMINAL_CODE")),
            kind="text" if is_message and not net else "discount" if net < 0 else "item",
        )

    def _payment(self, row: dict[str, Any], invoice_key: str, customer_key: str, foreign: bool) -> Payment:
        usage_number = text(row.get("USAGE_NUMBER"))
        kind = text(row.get("TYPE")).upper()
        paid = _money(row, "AMOUNT", f"amount of receipt {usage_number}", foreign)
        return Payment(
            key=required_text(usage_number, "allocation number"),
            invoice_key=invoice_key,
            customer_key=customer_key,
            date=required_when(row.get("DATE"), self.local_zone, f"date of receipt {usage_number}"),
            amount=abs(paid),
            method=_PAYMENT_METHODS.get(kind, kind),
            reference=text(row.get("REFERENCE")),
            modified=when(row.get(MODIFIED), self.local_zone, "receipt modified date"),
        )


def _money(
    row: dict[str, Any], column: str, label: str, foreign: bool, default: Decimal | None = None
) -> Decimal:
    """A money column in the document's currency: its FOREIGN_ twin for a foreign-currency document.

    A foreign document whose FOREIGN_ value is missing is a row problem, never a silent pound amount.
    """
    if not foreign:
        return amount(row.get(column), label, default=default)
    return amount(row.get(f"FOREIGN_{column}"), f"{label} in the document's currency", default=default)


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
    if isinstance(value, int | float):
        return _DOCUMENT_CODES.get(value, "other")  # NaN / infinity / other codes: not an invoice
    word = text(value).lower()
    if word.startswith("cred"):
        return "credit"
    if word.startswith("inv") or not word:
        return "invoice"
    return "other"


def _references(row: dict[str, Any]) -> set[str]:
    """The invoice numbers a ledger header names: INV_REF (text), ISP_REFERENCE (an integer, 0 = none)."""
    found = {text(row.get("INV_REF"))}
    isp = row.get("ISP_REFERENCE")
    if isinstance(isp, int | float) and isp:
        found.add(str(int(isp)))
    elif isinstance(isp, str) and isp.strip() not in ("", "0"):
        found.add(isp.strip())
    return {reference for reference in found if reference}


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
