"""QuickBooks Desktop through QODBC: the SDK's lists and transactions as SQL tables.

Why this shape: QODBC exposes ``Customer``, ``ItemService``/``ItemInventory``/``ItemNonInventory`` (or the
union table ``Item``), ``SalesTaxCode`` + ``ItemSalesTax``, ``Invoice`` + ``InvoiceLine`` and ``CreditMemo`` +
``CreditMemoLine`` (every line repeats the header columns) and ``ReceivePaymentLine`` (one row per payment
applied to an invoice). Money comes as decimal; ``TimeModified`` carries the QuickBooks machine's UTC offset
("2024-03-01T10:15:00-08:00"). docs/connectors.md lists every table and column read and its source.

Lines: ``InvoiceLineType`` is 'Item' or 'ItemGroup'. A group's members are rows of their own (the
``InvoiceLineGroup*`` columns repeat the group's header on each), so members are the lines and the group
header is never added on top; a group with no member rows is one line of its total. A line whose item is an
``ItemSubtotal`` is not a line (its amount is the sum of the lines above); an ``ItemDiscount`` line is a
discount and always negative; a line with no item and no amount is description-only text.

SQL dialect: the filter on ``TimeModified`` is written the way public QODBC code writes it,
``TimeModified >= {ts 'yyyy-mm-dd hh:mm:ss.000'}`` (an ODBC timestamp literal), with no bound datetime, no
``OR`` and no sub-select. Rows with no TimeModified (the SDK always sets one; the project's rule is that
undated rows are always read) come from a second plain ``TimeModified IS NULL`` query; invoices re-read for
a new payment are found by a plain query on ReceivePaymentLine and fetched by ``TxnID IN (...)``.
``Desc`` (a reserved word) is quoted with the driver's own identifier quote character (``identifier``).

Incremental reads and offsets: rows written under different offsets (DST, a moved machine) cannot be compared
as text or as naive local times. So ``since`` is applied twice: in SQL with a 14-hour safety margin below the
cursor (the widest UTC offset), which only ever reads *more*, then exactly in Python on the parsed aware
datetimes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar

from connectors.base import IN_VALUES, ConnectionCheck, Connector, StreamReader, StreamSpec, TableUse
from connectors.common import (
    CONVERSION_ERRORS,
    QUANTITY_PLACES,
    RowProblem,
    amount,
    changed_since,
    chunks,
    flag,
    optional_amount,
    pages,
    placeholders,
    rate,
    readable_text,
    required_text,
    row_problem,
    text,
    timestamp_literal,
    when,
)
from connectors.errors import error_from_odbc, sqlstate_of
from connectors.unchanged import ReadItem
from core.errors import ConfigError, LedgerBridgeError
from core.records import (
    Address,
    Customer,
    EntityName,
    Invoice,
    InvoiceLine,
    Item,
    LineKind,
    Payment,
    Record,
    SourceProblem,
    Supplier,
    TaxComponent,
    TaxRate,
    clean_text,
)

PACKAGE = "quickbooks"
OFFSET_MARGIN = timedelta(hours=14)  # the widest UTC offset in use (UTC+14); UTC-12 is inside it too
SPECIFIC_ITEM_TABLES = ("ItemService", "ItemInventory", "ItemNonInventory")
QREMOTE_HINT = (
    " For 64-bit LedgerBridge with the 32-bit QODBC driver use QRemote: "
    "Driver={QRemote for QuickBooks};DSN=QuickBooks Data 64-Bit QRemote;"
)
_QUANTITY = QUANTITY_PLACES
_ZERO = Decimal("0.00")
# Service and non-inventory items keep their price in SalesOrPurchase* (one account) or SalesAndPurchase*
# (separate income/expense accounts). Both are selected raw and chosen in Python: the SQLite ODBC driver
# types a COALESCE(...) result as INTEGER and silently truncates 95.50 to 95.
_SALES_OR_PURCHASE_COLUMNS = (
    "ListID",
    "Name",
    "FullName",
    "IsActive",
    "TimeModified",
    "SalesTaxCodeRefListID",
    "SalesOrPurchaseDesc",
    "SalesAndPurchaseSalesDesc",
    "SalesOrPurchasePrice",
    "SalesAndPurchaseSalesPrice",
    "SalesOrPurchaseAccountRefFullName",
    "SalesAndPurchaseIncomeAccountRefFullName",
    "SalesAndPurchasePurchaseCost",
)
_ADDRESS_PARTS = (*(f"Addr{n}" for n in range(1, 6)), "City", "State", "PostalCode", "Country")
TAX_CODE_COLUMNS = (
    "ListID",
    "Name",
    "Desc",
    "IsTaxable",
    "IsActive",
    "TimeModified",
    "ItemSalesTaxRefListID",
)
TAX_ITEM_COLUMNS = ("ListID", "Name", "TaxRate", "IsActive")
CUSTOMER_COLUMNS = (
    "ListID",
    "Name",
    "CompanyName",
    *(f"BillAddress{part}" for part in _ADDRESS_PARTS),
    *(f"ShipAddress{part}" for part in _ADDRESS_PARTS),
    "Email",
    "Phone",
    "Contact",
    "SalesTaxCodeRefListID",
    "IsActive",
    "TimeModified",
)
# QODBC's Vendor table (docs/connectors.md): the supplier list, its address in VendorAddress*.
VENDOR_COLUMNS = (
    "ListID",
    "Name",
    "CompanyName",
    *(f"VendorAddress{part}" for part in _ADDRESS_PARTS),
    "Email",
    "Phone",
    "Contact",
    "IsActive",
    "TimeModified",
)
INVENTORY_COLUMNS = (
    "ListID",
    "Name",
    "FullName",
    "IsActive",
    "TimeModified",
    "SalesTaxCodeRefListID",
    "SalesDesc",
    "SalesPrice",
    "IncomeAccountRefFullName",
    "PurchaseCost",
)
UNION_ITEM_COLUMNS = (
    "ListID",
    "Name",
    "FullName",
    "IsActive",
    "TimeModified",
    "SalesTaxCodeRefListID",
    "Description",
    "SalesPrice",
    "IncomeAccountRefFullName",
    "PurchaseCost",
    "Type",
)
_DOCUMENT_HEADER = (
    "TxnID",
    "TimeModified",
    "RefNumber",
    "CustomerRefListID",
    "TxnDate",
    "PONumber",
    "Subtotal",
    "SalesTaxTotal",
    "IsTaxIncluded",
)
INVOICE_COLUMNS = (*_DOCUMENT_HEADER, "DueDate", "AppliedAmount", "BalanceRemaining", "IsPaid")
CREDIT_MEMO_COLUMNS = (*_DOCUMENT_HEADER, "TotalAmount", "CreditRemaining")
_LINE_PARTS = (
    "Type",
    "SeqNo",
    "GroupTxnLineID",
    "GroupDesc",
    "GroupQuantity",
    "GroupTotalAmount",
    "TxnLineID",
    "ItemRefListID",
    "Desc",
    "Quantity",
    "Rate",
    "Amount",
    "TaxAmount",
    "SalesTaxCodeRefListID",
)
INVOICE_LINE_COLUMNS = ("TxnID", *(f"InvoiceLine{part}" for part in _LINE_PARTS))
CREDIT_MEMO_LINE_COLUMNS = ("TxnID", *(f"CreditMemoLine{part}" for part in _LINE_PARTS))
PAYMENT_COLUMNS = (
    "TxnID",
    "TimeModified",
    "CustomerRefListID",
    "TxnDate",
    "RefNumber",
    "PaymentMethodRefFullName",
    "AppliedToTxnTxnID",
    "AppliedToTxnPaymentAmount",
)

_STOPS = '{stream} cannot be read: every sync stops at {stream} with "does not have the table or column"'
_ITEMS_FALLBACK = (
    "items are read from the union table Item instead (all three of ItemService, ItemInventory and "
    "ItemNonInventory are needed to use them)"
)

# Every table and the columns read from it (the doctor probes exactly these) and what happens without them.
TABLE_USES: tuple[TableUse, ...] = (
    TableUse("SalesTaxCode", TAX_CODE_COLUMNS, _STOPS.format(stream="tax codes"), count=True),
    TableUse("ItemSalesTax", TAX_ITEM_COLUMNS, _STOPS.format(stream="tax codes"), money=("TaxRate",)),
    TableUse(
        "Customer", CUSTOMER_COLUMNS, _STOPS.format(stream="customers"), count=True, dates=("TimeModified",)
    ),
    TableUse(
        "Vendor", VENDOR_COLUMNS, _STOPS.format(stream="suppliers"), count=True, dates=("TimeModified",)
    ),
    TableUse(
        "ItemService",
        _SALES_OR_PURCHASE_COLUMNS,
        _ITEMS_FALLBACK,
        optional=True,
        count=True,
        money=("SalesOrPurchasePrice",),
    ),
    TableUse(
        "ItemInventory", INVENTORY_COLUMNS, _ITEMS_FALLBACK, optional=True, count=True, money=("SalesPrice",)
    ),
    TableUse("ItemNonInventory", _SALES_OR_PURCHASE_COLUMNS, _ITEMS_FALLBACK, optional=True, count=True),
    TableUse(
        "Item",
        UNION_ITEM_COLUMNS,
        "needed only when one of ItemService, ItemInventory and ItemNonInventory is missing",
        optional=True,
    ),
    TableUse(
        "ItemSubtotal",
        ("ListID",),
        "subtotal lines cannot be told apart and come through as ordinary lines (the lines add up to more)",
        optional=True,
    ),
    TableUse(
        "ItemDiscount",
        ("ListID",),
        "discount lines are read with the sign QuickBooks stored, not forced negative",
        optional=True,
    ),
    TableUse(
        "Invoice",
        INVOICE_COLUMNS,
        _STOPS.format(stream="invoices"),
        count=True,
        money=("Subtotal", "SalesTaxTotal", "BalanceRemaining"),
        dates=("TxnDate", "TimeModified"),
    ),
    TableUse(
        "InvoiceLine", INVOICE_LINE_COLUMNS, _STOPS.format(stream="invoices"), money=("InvoiceLineAmount",)
    ),
    TableUse(
        "CreditMemo",
        CREDIT_MEMO_COLUMNS,
        _STOPS.format(stream="invoices") + " (credit memos are read with them)",
        count=True,
        money=("TotalAmount", "CreditRemaining"),
    ),
    TableUse("CreditMemoLine", CREDIT_MEMO_LINE_COLUMNS, _STOPS.format(stream="invoices")),
    TableUse(
        "ReceivePaymentLine",
        PAYMENT_COLUMNS,
        _STOPS.format(stream="invoices") + " (their payments come from it)",
        money=("AppliedToTxnPaymentAmount",),
        dates=("TxnDate", "TimeModified"),
    ),
)


def _first(row: dict[str, Any], *columns: str) -> Any:
    """The first non-NULL of ``columns`` (absent columns count as NULL)."""
    for column in columns:
        if row.get(column) is not None:
            return row[column]
    return None


def _active(value: object) -> bool:
    """IsActive: NULL means active (QuickBooks omits it for active records in some exports)."""
    return True if value is None else flag(value)


def ts_literal(value: datetime) -> str:
    """An ODBC timestamp literal, ``{ts 'yyyy-mm-dd hh:mm:ss.000'}``, as public QODBC queries write it."""
    return timestamp_literal(value)


class QuickBooksConnector(Connector):
    """QuickBooks Desktop read through QODBC (or QRemote); SQLite with the same tables in the stand-in."""

    kind: ClassVar[str] = "quickbooks"
    display_name: ClassVar[str] = "QuickBooks Desktop"
    exact_since_in_python: ClassVar[bool] = True  # the SQL bound is 14 h wide (TimeModified's offsets)
    # Only its customers go through the declared loop, whose converter reads the row and the zone alone:
    # those rows are skipped when known. Its tax codes, items and invoices have readers of their own (joined
    # tables, line kinds looked up in other tables) and are converted every time.
    skips_unchanged_rows: ClassVar[bool] = True

    def streams(self) -> tuple[StreamSpec, ...]:
        modified = "TimeModified"
        note = "TimeModified is ISO-8601 with a UTC offset: SQL margin 14 h, exact in Python"
        return (
            StreamSpec("tax_rates", "SalesTaxCode", "ListID", None, "IsActive=0", "rate from ItemSalesTax"),
            StreamSpec("customers", "Customer", "ListID", modified, "IsActive=0", note),
            StreamSpec("suppliers", "Vendor", "ListID", modified, "IsActive=0", note),
            StreamSpec(
                "items",
                "ItemService/ItemInventory/ItemNonInventory or Item",
                "ListID",
                modified,
                "IsActive=0",
                note,
            ),
            StreamSpec(
                "invoices",
                "Invoice + CreditMemo",
                "TxnID",
                modified,
                "",
                note + "; also ReceivePaymentLine.TimeModified",
            ),
        )

    # --- connection ---------------------------------------------------------------------------------------

    def connect_error(self, exc: BaseException) -> LedgerBridgeError:
        return _connect_error(exc)

    def test_connection(self) -> ConnectionCheck:
        try:
            customers = self.scalar("SELECT COUNT(*) FROM Customer", "counting customers")
            invoices = self.scalar("SELECT COUNT(*) FROM Invoice", "counting invoices")
            company = self._company_name()
        except LedgerBridgeError as error:
            return ConnectionCheck(False, error.message, error.action, error.detail)
        prefix = f"Company: {company}; " if company else ""
        return ConnectionCheck(
            True,
            "Connected to QuickBooks Desktop.",
            detail=f"{prefix}{customers} customers; {invoices} invoices",
        )

    def _company_name(self) -> str:
        """QODBC's Company table names the open file; a stand-in may not have it."""
        try:
            for row in self.rows("SELECT CompanyName FROM Company", during="reading the company name"):
                return text(row.get("CompanyName"))
        except ConfigError:
            return ""
        return ""

    def _has_table(self, table: str) -> bool:
        try:
            for _ in self.rows(f"SELECT ListID FROM {table} WHERE 1 = 0", during=f"checking {table}"):
                pass
        except ConfigError:
            return False
        return True

    def tables(self) -> tuple[TableUse, ...]:
        return TABLE_USES

    def package_facts(self) -> list[tuple[str, str]]:
        facts: list[tuple[str, str]] = []
        for label, sql in (
            ("Company file", "SELECT CompanyName FROM Company"),
            ("Credit memos", "SELECT COUNT(*) FROM CreditMemo"),
            (
                "Invoice lines in item groups",
                "SELECT COUNT(*) FROM InvoiceLine WHERE InvoiceLineType = 'ItemGroup'",
            ),
        ):
            try:
                facts.append((label, text(self.scalar(sql, f"reading {label.lower()}"))))
            except LedgerBridgeError as exc:
                facts.append((label, f"could not be read ({exc.message})"))
        return facts

    # --- reading ------------------------------------------------------------------------------------------

    def read(self, stream: EntityName, since: datetime | None = None) -> Iterator[ReadItem]:
        readers: dict[str, StreamReader] = {
            "tax_rates": self._read_tax_rates,
            "customers": partial(
                self.read_declared, "customers", CUSTOMER_COLUMNS, self._customer, "Customer"
            ),
            "suppliers": partial(self.read_declared, "suppliers", VENDOR_COLUMNS, self._supplier, "Supplier"),
            "items": self._read_items,
            "invoices": self._read_invoices,
        }
        if stream not in readers:
            raise KeyError(f"QuickBooks has no stream {stream!r}")
        return readers[stream](since)

    @staticmethod
    def _since_filter(column: str, since: datetime | None) -> str:
        """A deliberately wide SQL bound: UTC cursor minus 14 h, as an ODBC timestamp literal.

        Any row modified at or after ``since`` has a local wall-clock time >= since_utc - 14 h whatever its
        offset, so the bound never drops a row; the exact test follows in Python.
        """
        if since is None:
            return ""
        bound = (since.astimezone(UTC) - OFFSET_MARGIN).replace(tzinfo=None, microsecond=0)
        return f"{column} >= {ts_literal(bound)}"

    def _changed_rows(
        self, select: str, since: datetime | None, *, condition: str = "", order: str = "", during: str
    ) -> Iterator[dict[str, Any]]:
        """``select`` rows changed since ``since`` (all when None), in the plain forms QODBC documents.

        Two statements rather than one with ``OR``: ``TimeModified >= {ts ...}``, then ``TimeModified IS
        NULL`` (undated rows are always read).
        """
        suffix = f" ORDER BY {order}" if order else ""
        filters = (
            [""] if since is None else [self._since_filter("TimeModified", since), "TimeModified IS NULL"]
        )
        for time_filter in filters:
            conditions = [part for part in (condition, time_filter) if part]
            where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
            yield from self.rows(select + where + suffix, during=during)

    def _modified(self, value: object) -> datetime | None:
        return when(value, self.local_zone, "modified time")

    # tax codes -------------------------------------------------------------------------------------------

    def _read_tax_rates(self, since: datetime | None) -> Iterator[ReadItem]:
        sql = (
            f"SELECT c.ListID, c.Name, c.{self.identifier('Desc')} AS CodeDesc, c.IsTaxable, c.IsActive, "
            "c.TimeModified, c.ItemSalesTaxRefListID, t.Name AS RateName, t.TaxRate, "
            "t.IsActive AS RateActive "
            "FROM SalesTaxCode c LEFT JOIN ItemSalesTax t ON t.ListID = c.ItemSalesTaxRefListID "
            "ORDER BY c.ListID"
        )
        for row in self.rows(sql, during="reading sales tax codes"):
            # Text that cannot be read, even the id or the name, is this row's problem, not the stream's.
            key = code = ""
            try:
                key = text(row.get("ListID"))
                code = text(row.get("Name"))
                if (
                    flag(row.get("IsTaxable"))
                    and key
                    and (row.get("ItemSalesTaxRefListID") is None or row.get("TaxRate") is None)
                ):
                    record: Record | SourceProblem = SourceProblem(
                        "tax_rates",
                        key,
                        f"QuickBooks sales tax code {code!r} is taxable but has no sales tax item with a "
                        "rate (QuickBooks US takes the rate from each customer's tax item).",
                        action="Map this tax code to a Halo tax by hand in Mappings > Tax codes.",
                    )
                else:
                    record = self._tax_rate(row, key, code)
            except CONVERSION_ERRORS as exc:
                what = f"QuickBooks sales tax code {code!r}" if code else "QuickBooks sales tax code"
                record = row_problem("tax_rates", key, exc, what=what)
            yield record

    def _tax_rate(self, row: dict[str, Any], key: str, code: str) -> TaxRate:
        required_text(key, "ListID")
        name = text(row.get("CodeDesc")) or code
        modified = self._modified(row.get("TimeModified"))
        active = _active(row.get("IsActive"))
        if not flag(row.get("IsTaxable")):
            return TaxRate(key, code, name, Decimal("0.0000"), active=active, modified=modified)
        percent = rate(row.get("TaxRate"))
        if percent < 0 or percent > 100:
            raise RowProblem(f"the rate {percent}% is not a percentage")
        authority = text(row.get("RateName")) or code
        return TaxRate(
            key,
            code,
            name,
            percent,
            components=(TaxComponent(authority, percent),),
            active=active,
            modified=modified,
        )

    # customers -------------------------------------------------------------------------------------------

    def declared_rows(
        self, spec: StreamSpec, columns: Sequence[str], since: datetime | None, *, during: str
    ) -> Iterator[dict[str, Any]]:
        """The declared columns of the stream's table changed since ``since``, in QODBC's plain forms."""
        select = f"SELECT {', '.join(columns)} FROM {spec.table}"
        return self._changed_rows(select, since, order=spec.key, during=during)

    def modified_of(self, spec: StreamSpec, row: dict[str, Any]) -> datetime | None:
        return self._modified(row.get("TimeModified"))

    @staticmethod
    def _address(row: dict[str, Any], prefix: str) -> Address:
        lines = tuple(line for line in (text(row.get(f"{prefix}Addr{n}")) for n in range(1, 6)) if line)
        return Address(
            lines=lines,
            city=text(row.get(f"{prefix}City")),
            region=text(row.get(f"{prefix}State")),
            postcode=text(row.get(f"{prefix}PostalCode")),
            country=text(row.get(f"{prefix}Country")),
        )

    def _customer(self, row: dict[str, Any], key: str) -> Customer:
        return Customer(
            **self._list_entry(row, key, "BillAddress"),
            tax_code=text(row.get("SalesTaxCodeRefListID")),
            delivery_address=self._address(row, "ShipAddress"),
        )

    def _supplier(self, row: dict[str, Any], key: str) -> Supplier:
        return Supplier(**self._list_entry(row, key, "VendorAddress"))

    def _list_entry(self, row: dict[str, Any], key: str, address: str) -> dict[str, Any]:
        """What a Customer and a Vendor row share: the same column names, the address under a prefix."""
        return {
            "key": required_text(key, "ListID"),
            "name": required_text(text(row.get("Name"), 41), "name"),
            "email": text(row.get("Email")),
            "phone": text(row.get("Phone")),
            "contact_name": text(row.get("Contact")),
            "address": self._address(row, address),
            "active": _active(row.get("IsActive")),
            "modified": self._modified(row.get("TimeModified")),
        }

    # items -----------------------------------------------------------------------------------------------

    def _read_items(self, since: datetime | None) -> Iterator[ReadItem]:
        if all(self._has_table(table) for table in SPECIFIC_ITEM_TABLES):
            queries = [
                ("ItemService", f"SELECT {', '.join(_SALES_OR_PURCHASE_COLUMNS)} FROM ItemService", ""),
                ("ItemInventory", f"SELECT {', '.join(INVENTORY_COLUMNS)} FROM ItemInventory", ""),
                (
                    "ItemNonInventory",
                    f"SELECT {', '.join(_SALES_OR_PURCHASE_COLUMNS)} FROM ItemNonInventory",
                    "",
                ),
            ]
        else:
            queries = [
                (
                    "Item",
                    f"SELECT {', '.join(UNION_ITEM_COLUMNS)} FROM Item",
                    "Type IN ('ItemService', 'ItemInventory', 'ItemNonInventory')",
                )
            ]
        for table, select, condition in queries:
            for row in self._changed_rows(
                select, since, condition=condition, order="ListID", during=f"reading items ({table})"
            ):
                service = (row.get("Type") or table) == "ItemService"
                key = text(row.get("ListID"))
                try:
                    record: Record | SourceProblem = self._item(row, key, service)
                except CONVERSION_ERRORS as exc:
                    stamp = partial(self._modified, row.get("TimeModified"))
                    record = row_problem("items", key, exc, what="Item", modified=stamp)
                if changed_since(record, since):
                    yield record

    def _item(self, row: dict[str, Any], key: str, is_service: bool) -> Item:
        name = required_text(text(row.get("Name"), 31), "name")
        price = _first(row, "SalesPrice", "SalesOrPurchasePrice", "SalesAndPurchaseSalesPrice")
        return Item(
            key=required_text(key, "ListID"),
            code=name,
            name=text(row.get("FullName")) or name,
            description=text(
                _first(row, "SalesDesc", "Description", "SalesOrPurchaseDesc", "SalesAndPurchaseSalesDesc")
            ),
            price=amount(price, "sales price", default=_ZERO),
            cost=optional_amount(_first(row, "PurchaseCost", "SalesAndPurchasePurchaseCost"), "cost"),
            tax_code=text(row.get("SalesTaxCodeRefListID")),
            nominal_code=text(
                _first(
                    row,
                    "IncomeAccountRefFullName",
                    "SalesOrPurchaseAccountRefFullName",
                    "SalesAndPurchaseIncomeAccountRefFullName",
                )
            ),
            is_service=is_service,
            active=_active(row.get("IsActive")),
            modified=self._modified(row.get("TimeModified")),
        )

    # invoices and credit memos ---------------------------------------------------------------------------

    def _read_invoices(self, since: datetime | None) -> Iterator[ReadItem]:
        """Invoices, then credit memos (credit notes); both keyed by TxnID, unique across transactions."""
        already_read: set[str] = set()
        select = f"SELECT {', '.join(INVOICE_COLUMNS)} FROM Invoice"
        rows = self._changed_rows(select, since, order="TxnID", during="reading invoices")
        for page in pages(rows, self.page_size):
            already_read.update(text(row.get("TxnID")) for row in page)
            yield from self._document_page(page, since, credit=False)
        if since is not None:
            # Invoices whose own TimeModified did not change but which a new payment was applied to.
            paid_rows = self._changed_rows(
                "SELECT AppliedToTxnTxnID FROM ReceivePaymentLine", since, during="reading payments"
            )
            paid = sorted({text(row.get("AppliedToTxnTxnID")) for row in paid_rows} - already_read - {""})
            for chunk in chunks(paid, self.page_size):
                chunk_sql = (
                    f"SELECT {', '.join(INVOICE_COLUMNS)} FROM Invoice "
                    f"WHERE TxnID IN ({placeholders(len(chunk))}) ORDER BY TxnID"
                )
                page = list(self.rows(chunk_sql, chunk, during="reading paid invoices"))
                yield from self._document_page(page, since, credit=False)
        credit_select = f"SELECT {', '.join(CREDIT_MEMO_COLUMNS)} FROM CreditMemo"
        credit_rows = self._changed_rows(credit_select, since, order="TxnID", during="reading credit memos")
        for page in pages(credit_rows, self.page_size):
            yield from self._document_page(page, since, credit=True)

    def _document_page(
        self, page: list[dict[str, Any]], since: datetime | None, *, credit: bool
    ) -> Iterator[ReadItem]:
        # A child row (line, payment) whose parent id cannot be read is left out: its parent's id is that
        # same text, and the parent is a row problem of its own (``readable_text``).
        ids = [
            found
            for row in page
            if row.get("TxnID") is not None and (found := readable_text(row.get("TxnID"))) is not None
        ]
        prefix = "CreditMemoLine" if credit else "InvoiceLine"
        columns = CREDIT_MEMO_LINE_COLUMNS if credit else INVOICE_LINE_COLUMNS
        lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
        payments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        line_sql = (
            f"SELECT {', '.join(columns)} FROM {prefix} WHERE TxnID {IN_VALUES} ORDER BY TxnID, {prefix}SeqNo"
        )
        for row in self.rows_in(
            line_sql, ids, during=f"reading {'credit memo' if credit else 'invoice'} lines"
        ):
            parent = readable_text(row.get("TxnID"))
            if parent is None:
                continue
            # One spelling for both tables: InvoiceLineAmount / CreditMemoLineAmount -> LineAmount.
            lines[parent].append(
                {"Line" + column.removeprefix(prefix): value for column, value in row.items()}
            )
        if not credit:
            payment_sql = (
                f"SELECT {', '.join(PAYMENT_COLUMNS)} FROM ReceivePaymentLine "
                f"WHERE AppliedToTxnTxnID {IN_VALUES} ORDER BY TxnID"
            )
            for row in self.rows_in(payment_sql, ids, during="reading payments"):
                parent = readable_text(row.get("AppliedToTxnTxnID"))
                if parent is not None:
                    payments[parent].append(row)
        # An item id that cannot be read is its line's problem, found when the line is converted.
        item_ids = {
            readable_text(line.get("LineItemRefListID")) for found in lines.values() for line in found
        }
        item_kinds = self._line_item_kinds({item for item in item_ids if item})
        for header in page:
            key = ""  # an id that cannot be read: "An invoice ... without a key was not read: ..."
            try:
                key = text(header.get("TxnID"))
                record: Record | SourceProblem = self._document(
                    header, key, lines.get(key, []), payments.get(key, []), item_kinds, credit=credit
                )
            except CONVERSION_ERRORS as exc:
                number = clean_text(header.get("RefNumber"), 40)  # shown as read: never an error of its own
                record = row_problem(
                    "invoices",
                    key,
                    exc,
                    what=f"{'Credit memo' if credit else 'Invoice'} {number!r}",
                    modified=partial(self._modified, header.get("TimeModified")),
                )
            if changed_since(record, since):
                yield record

    def _line_item_kinds(self, item_ids: set[str]) -> dict[str, str]:
        """ListID -> 'subtotal' / 'discount' for the lines' items that are subtotal or discount items."""
        kinds: dict[str, str] = {}
        for table, kind in (("ItemSubtotal", "subtotal"), ("ItemDiscount", "discount")):
            for chunk in chunks(sorted(item_ids)):
                sql = f"SELECT ListID FROM {table} WHERE ListID IN ({placeholders(len(chunk))})"
                try:
                    for row in self.rows(sql, chunk, during=f"reading {table}"):
                        found = readable_text(row.get("ListID"))
                        if found is not None:
                            kinds[found] = kind
                except ConfigError:
                    break  # a company file without that list has no such lines
        return kinds

    def _document(
        self,
        header: dict[str, Any],
        key: str,
        line_rows: list[dict[str, Any]],
        payment_rows: list[dict[str, Any]],
        item_kinds: dict[str, str],
        *,
        credit: bool,
    ) -> Invoice:
        required_text(key, "TxnID")
        customer_key = required_text(header.get("CustomerRefListID"), "customer")
        modified = self._modified(header.get("TimeModified"))
        date = when(header.get("TxnDate"), self.local_zone, "date")
        if date is None:
            raise RowProblem("it has no date")
        subtotal = amount(header.get("Subtotal"), "subtotal", default=_ZERO)
        tax = amount(header.get("SalesTaxTotal"), "sales tax total", default=_ZERO)
        gross = subtotal if flag(header.get("IsTaxIncluded")) else subtotal + tax
        net = gross - tax
        # A credit memo is a credit note; an invoice with a negative total is one too (amounts positive).
        is_credit = credit or gross < 0
        sign = Decimal(-1) if gross < 0 else Decimal(1)
        invoice_lines = tuple(self._lines(line_rows, sign, item_kinds))
        applied = [self._payment(row, key) for row in payment_rows]
        for payment in applied:
            if payment.modified is not None and (modified is None or payment.modified > modified):
                modified = payment.modified
        if credit:
            remaining = optional_amount(header.get("CreditRemaining"), "credit remaining")
            outstanding = abs(remaining) if remaining is not None else None
            amount_paid = abs(gross) - outstanding if outstanding is not None else _ZERO
        else:
            balance = optional_amount(header.get("BalanceRemaining"), "balance remaining")
            outstanding = abs(balance) if balance is not None else None
            if outstanding is None and flag(header.get("IsPaid")):
                outstanding = _ZERO
            applied_amount = optional_amount(header.get("AppliedAmount"), "applied amount")
            amount_paid = (
                abs(applied_amount)
                if applied_amount is not None
                else sum((payment.amount for payment in applied), _ZERO)
            )
        paid_date = (
            max((payment.date for payment in applied), default=None)
            if outstanding == 0 and gross != 0
            else None
        )
        return Invoice(
            key=key,
            number=text(header.get("RefNumber"), 11),
            customer_key=customer_key,
            date=date,
            due_date=when(header.get("DueDate"), self.local_zone, "due date"),
            lines=invoice_lines,
            net=abs(net),
            tax=abs(tax),
            gross=abs(gross),
            is_credit=is_credit,
            amount_paid=amount_paid,
            outstanding=outstanding,
            paid_date=paid_date,
            reference=text(header.get("PONumber")),
            payments=tuple(applied),
            modified=modified,
        )

    def _lines(
        self, rows: list[dict[str, Any]], sign: Decimal, item_kinds: dict[str, str]
    ) -> Iterator[InvoiceLine]:
        """The document's real lines: group members (not their header), no subtotals, discounts negative."""
        groups_with_members = {
            text(row.get("LineGroupTxnLineID")) for row in rows if row.get("LineTxnLineID") is not None
        }
        seen_groups: set[str] = set()
        number = 0
        for row in rows:
            group = text(row.get("LineGroupTxnLineID"))
            if text(row.get("LineType")).lower() == "itemgroup" and row.get("LineTxnLineID") is None:
                if group in groups_with_members or group in seen_groups:
                    continue  # the group's header: its members are the lines
                seen_groups.add(group)
                number += 1
                yield self._group_line(number, row, sign)
                continue
            kind = item_kinds.get(text(row.get("LineItemRefListID")), "")
            if kind == "subtotal":
                continue  # a subtotal repeats the lines above it
            number += 1
            yield self._line(number, row, sign, discount=kind == "discount")

    @staticmethod
    def _group_line(number: int, row: dict[str, Any], sign: Decimal) -> InvoiceLine:
        total = amount(row.get("LineGroupTotalAmount"), f"total of group line {number}", default=_ZERO)
        quantity = amount(
            row.get("LineGroupQuantity"), "group quantity", places=_QUANTITY, default=Decimal(1)
        )
        return InvoiceLine(
            number=number,
            description=text(row.get("LineGroupDesc")),
            quantity=quantity * sign,
            unit_price=(total / quantity).quantize(_ZERO) if quantity else total,
            net=total * sign,
            tax=_ZERO,
        )

    @staticmethod
    def _line(number: int, row: dict[str, Any], sign: Decimal, *, discount: bool) -> InvoiceLine:
        label = f"line {number}"
        net = amount(row.get("LineAmount"), f"amount of {label}", default=_ZERO)
        tax = amount(row.get("LineTaxAmount"), f"tax of {label}", default=_ZERO)
        quantity = optional_amount(row.get("LineQuantity"), f"quantity of {label}", places=_QUANTITY)
        unit_price = optional_amount(row.get("LineRate"), f"rate of {label}")
        item_key = text(row.get("LineItemRefListID"))
        if discount:
            net, tax = -abs(net), -abs(tax)
        if quantity is None or (quantity == 0 and net):
            quantity, unit_price = Decimal("1.0000") if net else Decimal("0.0000"), net
        kind: LineKind = "discount" if discount else "text" if not item_key and not net else "item"
        return InvoiceLine(
            number=number,
            description=text(row.get("LineDesc")),
            quantity=quantity * sign,
            unit_price=unit_price if unit_price is not None else _ZERO,
            net=net * sign,
            tax=tax * sign,
            item_key=item_key,
            tax_code=text(row.get("LineSalesTaxCodeRefListID")),
            kind=kind,
        )

    def _payment(self, row: dict[str, Any], invoice_key: str) -> Payment:
        date = when(row.get("TxnDate"), self.local_zone, "payment date")
        if date is None:
            raise RowProblem("a payment applied to it has no date")
        return Payment(
            key=f"{text(row.get('TxnID'))}:{invoice_key}",
            invoice_key=invoice_key,
            customer_key=text(row.get("CustomerRefListID")),
            date=date,
            amount=amount(row.get("AppliedToTxnPaymentAmount"), "payment amount"),
            method=text(row.get("PaymentMethodRefFullName")),
            reference=text(row.get("RefNumber")),
            modified=self._modified(row.get("TimeModified")),
        )


def _connect_error(exc: BaseException) -> LedgerBridgeError:
    """error_from_odbc, plus the QRemote hint when the QODBC driver is missing (a 32/64-bit mismatch)."""
    error = error_from_odbc(exc, package=PACKAGE, during="connecting")
    state = sqlstate_of(exc)
    if isinstance(error, ConfigError) and (
        state in ("IM002", "IM003") or "can't open lib" in str(exc).lower()
    ):
        return ConfigError(
            "The QODBC driver for QuickBooks Desktop was not found.",
            action="Install QODBC (it comes with QuickBooks Enterprise, "
            "or from flexquarters.com) and check the "
            "driver / DSN name in Settings > Accounting package." + QREMOTE_HINT,
            detail=error.detail,
        )
    return error
