"""QuickBooks Desktop through QODBC: the SDK's lists and transactions as SQL tables.

Why this shape: QODBC exposes ``Customer``, ``ItemService``/``ItemInventory``/``ItemNonInventory`` (or the
union table ``Item``), ``SalesTaxCode`` + ``ItemSalesTax``, ``Invoice`` + ``InvoiceLine`` (every line repeats
the header columns) and ``ReceivePaymentLine`` (one row per payment applied to an invoice). Money comes as
decimal; ``TimeModified`` carries the QuickBooks machine's UTC offset ("2024-03-01T10:15:00-08:00").

Incremental reads and offsets: rows written under different offsets (DST, a moved machine) cannot be compared
as text or as naive local times. So ``since`` is applied twice: in SQL with a 14-hour safety margin below the
cursor (the widest UTC offset), which only ever reads *more*, then exactly in Python on the parsed aware
datetimes. Rows with no TimeModified are always read. A new payment re-reads its invoice: the invoice's
``modified`` is the latest of its own TimeModified and its payments', and the SQL filter includes invoices a
recently modified ReceivePaymentLine applies to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from connectors.base import ConnectionCheck, Connector, StreamSpec
from connectors.errors import error_from_odbc, sqlstate_of
from connectors.sql import iter_rows
from sync.errors import ConfigError, LedgerBridgeError
from sync.records import (
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
    TaxComponent,
    TaxRate,
    aware,
    clean_text,
    money,
    to_decimal,
)

PACKAGE = "quickbooks"
OFFSET_MARGIN = timedelta(hours=14)  # the widest UTC offset in use (UTC+14); UTC-12 is inside it too
SPECIFIC_ITEM_TABLES = ("ItemService", "ItemInventory", "ItemNonInventory")
QREMOTE_HINT = (
    " For 64-bit LedgerBridge with the 32-bit QODBC driver use QRemote: "
    "Driver={QRemote for QuickBooks};DSN=QuickBooks Data 64-Bit QRemote;"
)
_QUANTITY = Decimal("0.0001")
# Service and non-inventory items keep their price in SalesOrPurchase* (one account) or SalesAndPurchase*
# (separate income/expense accounts). Both are selected raw and chosen in Python: the SQLite ODBC driver
# types a COALESCE(...) result as INTEGER and silently truncates 95.50 to 95.
_SALES_OR_PURCHASE = (
    "SELECT ListID, Name, FullName, IsActive, TimeModified, SalesTaxCodeRefListID, SalesOrPurchaseDesc, "
    "SalesAndPurchaseSalesDesc, SalesOrPurchasePrice, SalesAndPurchaseSalesPrice, "
    "SalesOrPurchaseAccountRefFullName, SalesAndPurchaseIncomeAccountRefFullName, "
    "SalesAndPurchasePurchaseCost AS Cost FROM {table}"
)


def _first(row: dict[str, Any], *columns: str) -> Any:
    """The first non-NULL of ``columns`` (absent columns count as NULL)."""
    for column in columns:
        if row.get(column) is not None:
            return row[column]
    return None


def _flag(value: object, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "-1")
    return bool(int(value))  # type: ignore[call-overload]


class QuickBooksConnector(Connector):
    """QuickBooks Desktop read through QODBC (or QRemote); SQLite with the same tables in the stand-in."""

    kind: ClassVar[str] = "quickbooks"
    display_name: ClassVar[str] = "QuickBooks Desktop"

    def streams(self) -> tuple[StreamSpec, ...]:
        modified = "TimeModified (ISO-8601 with UTC offset; SQL margin 14 h, exact in Python)"
        return (
            StreamSpec("tax_rates", "SalesTaxCode", "ListID", None, "IsActive=0 (rate from ItemSalesTax)"),
            StreamSpec("customers", "Customer", "ListID", modified, "IsActive=0"),
            StreamSpec(
                "items",
                "ItemService/ItemInventory/ItemNonInventory or Item",
                "ListID",
                modified,
                "IsActive=0",
            ),
            StreamSpec(
                "invoices", "Invoice", "TxnID", modified + "; also ReceivePaymentLine.TimeModified", ""
            ),
        )

    # --- connection ---------------------------------------------------------------------------------------

    def connect_error(self, exc: BaseException) -> LedgerBridgeError:
        return _connect_error(exc)

    def test_connection(self) -> ConnectionCheck:
        try:
            customers = self.scalar("SELECT COUNT(*) FROM Customer", "counting customers")
            invoices = self.scalar("SELECT COUNT(*) FROM Invoice", "counting invoices")
            company = self._company_name(self.connection())
        except LedgerBridgeError as error:
            return ConnectionCheck(False, error.message, error.action, error.detail)
        prefix = f"Company: {company}; " if company else ""
        return ConnectionCheck(
            True,
            "Connected to QuickBooks Desktop.",
            detail=f"{prefix}{customers} customers; {invoices} invoices",
        )

    def _company_name(self, connection: Any) -> str:
        """QODBC's Company table names the open file; a stand-in may not have it."""
        try:
            for row in iter_rows(connection, "SELECT CompanyName FROM Company", package=PACKAGE):
                return clean_text(row.get("CompanyName"))
        except ConfigError:
            return ""
        return ""

    def _has_table(self, table: str) -> bool:
        try:
            for _ in iter_rows(self.connection(), f"SELECT ListID FROM {table} WHERE 1 = 0", package=PACKAGE):
                pass
        except ConfigError:
            return False
        return True

    # --- reading ------------------------------------------------------------------------------------------

    def read(self, stream: EntityName, since: datetime | None = None) -> Iterator[Record | SourceProblem]:
        readers = {
            "tax_rates": self._read_tax_rates,
            "customers": self._read_customers,
            "items": self._read_items,
            "invoices": self._read_invoices,
        }
        if stream not in readers:
            raise KeyError(f"QuickBooks has no stream {stream!r}")
        return readers[stream](since)

    def _since_filter(self, column: str, since: datetime | None) -> tuple[str, list[Any]]:
        """A deliberately wide SQL bound: UTC cursor minus 14 h, as a naive timestamp literal parameter.

        Any row modified at or after ``since`` has a local wall-clock time >= since_utc - 14 h whatever its
        offset, so the bound never drops a row; the exact test follows in Python.
        """
        if since is None:
            return "", []
        bound = (since.astimezone(UTC) - OFFSET_MARGIN).replace(tzinfo=None, microsecond=0)
        return f"({column} IS NULL OR {column} >= ?)", [bound]

    def _modified(self, value: object) -> datetime | None:
        return aware(value, self.local_zone)

    @staticmethod
    def _fresh(modified: datetime | None, since: datetime | None) -> bool:
        return since is None or modified is None or modified >= since

    # tax codes -------------------------------------------------------------------------------------------

    def _read_tax_rates(self, since: datetime | None) -> Iterator[Record | SourceProblem]:
        sql = (
            "SELECT c.ListID, c.Name, c.Description, c.IsTaxable, c.IsActive, c.TimeModified, "
            "c.ItemSalesTaxRefListID, t.Name AS RateName, t.TaxRate, t.IsActive AS RateActive "
            "FROM SalesTaxCode c LEFT JOIN ItemSalesTax t ON t.ListID = c.ItemSalesTaxRefListID "
            "ORDER BY c.ListID"
        )
        for row in iter_rows(self.connection(), sql, page_size=self.page_size, package=PACKAGE):
            yield self._tax_rate(row)

    def _tax_rate(self, row: dict[str, Any]) -> TaxRate | SourceProblem:
        key = clean_text(row.get("ListID"))
        code = clean_text(row.get("Name"))
        try:
            if not key:
                raise ValueError("the tax code has no ListID")
            name = clean_text(row.get("Description")) or code
            modified = self._modified(row.get("TimeModified"))
            active = _flag(row.get("IsActive"), default=True)
            if not _flag(row.get("IsTaxable")):
                return TaxRate(key, code, name, Decimal("0.0000"), active=active, modified=modified)
            if row.get("ItemSalesTaxRefListID") is None or row.get("TaxRate") is None:
                return SourceProblem(
                    "tax_rates",
                    key,
                    f"QuickBooks sales tax code {code!r} is taxable but has no sales tax item with a rate "
                    "(QuickBooks US takes the rate from each customer's tax item).",
                    action="Map this tax code to a Halo tax by hand in Mappings > Tax codes.",
                )
            rate = to_decimal(row.get("TaxRate"), RATE_PLACES)
            if rate < 0 or rate > 100:
                raise ValueError(f"the rate {rate}% is not a percentage")
            authority = clean_text(row.get("RateName")) or code
            return TaxRate(
                key,
                code,
                name,
                rate,
                components=(TaxComponent(authority, rate),),
                active=active,
                modified=modified,
            )
        except (ValueError, ArithmeticError, TypeError) as exc:
            return SourceProblem(
                "tax_rates", key, f"QuickBooks sales tax code {code!r} could not be read: {exc}."
            )

    # customers -------------------------------------------------------------------------------------------

    def _read_customers(self, since: datetime | None) -> Iterator[Record | SourceProblem]:
        bill = ", ".join(f"BillAddressAddr{n}" for n in range(1, 6))
        ship = ", ".join(f"ShipAddressAddr{n}" for n in range(1, 6))
        select = (
            f"SELECT ListID, Name, CompanyName, {bill}, BillAddressCity, BillAddressState, "
            f"BillAddressPostalCode, BillAddressCountry, {ship}, ShipAddressCity, ShipAddressState, "
            "ShipAddressPostalCode, ShipAddressCountry, Email, Phone, Contact, SalesTaxCodeRefListID, "
            "IsActive, TimeModified FROM Customer"
        )
        where, params = self._since_filter("TimeModified", since)
        sql = select + (f" WHERE {where}" if where else "") + " ORDER BY ListID"
        for row in iter_rows(self.connection(), sql, params, page_size=self.page_size, package=PACKAGE):
            record = self._customer(row)
            if self._fresh(record.modified, since):
                yield record

    def _address(self, row: dict[str, Any], prefix: str) -> Address:
        lines = tuple(line for line in (clean_text(row.get(f"{prefix}Addr{n}")) for n in range(1, 6)) if line)
        return Address(
            lines=lines,
            city=clean_text(row.get(f"{prefix}City")),
            region=clean_text(row.get(f"{prefix}State")),
            postcode=clean_text(row.get(f"{prefix}PostalCode")),
            country=clean_text(row.get(f"{prefix}Country")),
        )

    def _customer(self, row: dict[str, Any]) -> Customer | SourceProblem:
        key = clean_text(row.get("ListID"))
        modified = None
        try:
            modified = self._modified(row.get("TimeModified"))
            if not key:
                raise ValueError("the customer has no ListID")
            name = clean_text(row.get("Name"), 41)
            if not name:
                raise ValueError("the customer has no name")
            return Customer(
                key=key,
                name=name,
                email=clean_text(row.get("Email")),
                phone=clean_text(row.get("Phone")),
                contact_name=clean_text(row.get("Contact")),
                tax_code=clean_text(row.get("SalesTaxCodeRefListID")),
                address=self._address(row, "BillAddress"),
                delivery_address=self._address(row, "ShipAddress"),
                active=_flag(row.get("IsActive"), default=True),
                modified=modified,
            )
        except (ValueError, ArithmeticError, TypeError) as exc:
            return SourceProblem("customers", key, f"Customer could not be read: {exc}.", modified=modified)

    # items -----------------------------------------------------------------------------------------------

    def _read_items(self, since: datetime | None) -> Iterator[Record | SourceProblem]:
        if all(self._has_table(table) for table in SPECIFIC_ITEM_TABLES):
            queries = [
                ("ItemService", _SALES_OR_PURCHASE.format(table="ItemService")),
                (
                    "ItemInventory",
                    "SELECT ListID, Name, FullName, IsActive, TimeModified, "
                    "SalesTaxCodeRefListID, SalesDesc, "
                    "SalesPrice AS Price, IncomeAccountRefFullName AS Account, PurchaseCost AS Cost "
                    "FROM ItemInventory",
                ),
                ("ItemNonInventory", _SALES_OR_PURCHASE.format(table="ItemNonInventory")),
            ]
        else:
            queries = [
                (
                    "Item",
                    "SELECT ListID, Name, FullName, IsActive, TimeModified, SalesTaxCodeRefListID, "
                    "Description AS SalesDesc, SalesPrice AS Price, IncomeAccountRefFullName AS Account, "
                    "PurchaseCost AS Cost, Type FROM Item "
                    "WHERE Type IN ('ItemService', 'ItemInventory', 'ItemNonInventory')",
                )
            ]
        for table, select in queries:
            where, params = self._since_filter("TimeModified", since)
            joiner = " AND " if " WHERE " in select else " WHERE "
            sql = select + (joiner + where if where else "") + " ORDER BY ListID"
            for row in iter_rows(self.connection(), sql, params, page_size=self.page_size, package=PACKAGE):
                service = (row.get("Type") or table) == "ItemService"
                record = self._item(row, service)
                if self._fresh(record.modified, since):
                    yield record

    def _item(self, row: dict[str, Any], is_service: bool) -> Item | SourceProblem:
        key = clean_text(row.get("ListID"))
        modified = None
        try:
            modified = self._modified(row.get("TimeModified"))
            if not key:
                raise ValueError("the item has no ListID")
            name = clean_text(row.get("Name"), 31)
            if not name:
                raise ValueError("the item has no name")
            price = _first(row, "Price", "SalesOrPurchasePrice", "SalesAndPurchaseSalesPrice")
            cost = row.get("Cost")
            return Item(
                key=key,
                code=name,
                name=clean_text(row.get("FullName")) or name,
                description=clean_text(
                    _first(row, "SalesDesc", "SalesOrPurchaseDesc", "SalesAndPurchaseSalesDesc")
                ),
                price=money(price) if price is not None else Decimal("0.00"),
                cost=money(cost) if cost is not None else None,
                tax_code=clean_text(row.get("SalesTaxCodeRefListID")),
                nominal_code=clean_text(
                    _first(
                        row,
                        "Account",
                        "SalesOrPurchaseAccountRefFullName",
                        "SalesAndPurchaseIncomeAccountRefFullName",
                    )
                ),
                is_service=is_service,
                active=_flag(row.get("IsActive"), default=True),
                modified=modified,
            )
        except (ValueError, ArithmeticError, TypeError) as exc:
            return SourceProblem("items", key, f"Item could not be read: {exc}.", modified=modified)

    # invoices --------------------------------------------------------------------------------------------

    def _read_invoices(self, since: datetime | None) -> Iterator[Record | SourceProblem]:
        select = (
            "SELECT TxnID, TimeModified, RefNumber, CustomerRefListID, TxnDate, DueDate, PONumber, Memo, "
            "Subtotal, SalesTaxTotal, AppliedAmount, BalanceRemaining, IsPaid, IsTaxIncluded FROM Invoice"
        )
        where, params = self._since_filter("TimeModified", since)
        if where:
            paid_where, paid_params = self._since_filter("p.TimeModified", since)
            where = (
                f"({where} OR TxnID IN (SELECT p.AppliedToTxnTxnID FROM ReceivePaymentLine p "
                f"WHERE {paid_where}))"
            )
            params = [*params, *paid_params]
        sql = select + (f" WHERE {where}" if where else "") + " ORDER BY TxnID"
        cursor_rows = iter_rows(self.connection(), sql, params, page_size=self.page_size, package=PACKAGE)
        page: list[dict[str, Any]] = []
        for row in cursor_rows:
            page.append(row)
            if len(page) >= self.page_size:
                yield from self._invoice_page(page, since)
                page = []
        if page:
            yield from self._invoice_page(page, since)

    def _invoice_page(
        self, page: list[dict[str, Any]], since: datetime | None
    ) -> Iterator[Record | SourceProblem]:
        ids = [row["TxnID"] for row in page if row.get("TxnID") is not None]
        lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
        payments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if ids:
            marks = ", ".join("?" for _ in ids)
            line_sql = (
                "SELECT TxnID, InvoiceLineSeqNo, InvoiceLineTxnLineID, "
                "InvoiceLineItemRefListID, InvoiceLineDesc, "
                "InvoiceLineQuantity, InvoiceLineRate, InvoiceLineAmount, InvoiceLineTaxAmount, "
                f"InvoiceLineSalesTaxCodeRefListID FROM InvoiceLine WHERE TxnID IN ({marks}) "
                "ORDER BY TxnID, InvoiceLineSeqNo"
            )
            for row in iter_rows(self.connection(), line_sql, ids, page_size=self.page_size, package=PACKAGE):
                lines[row["TxnID"]].append(row)
            payment_sql = (
                "SELECT TxnID, TimeModified, CustomerRefListID, TxnDate, "
                "RefNumber, PaymentMethodRefFullName, "
                f"AppliedToTxnTxnID, AppliedToTxnPaymentAmount FROM ReceivePaymentLine "
                f"WHERE AppliedToTxnTxnID IN ({marks}) ORDER BY TxnID"
            )
            for row in iter_rows(
                self.connection(), payment_sql, ids, page_size=self.page_size, package=PACKAGE
            ):
                payments[row["AppliedToTxnTxnID"]].append(row)
        for header in page:
            record = self._invoice(header, lines, payments)
            if self._fresh(record.modified, since):
                yield record

    def _invoice(
        self,
        header: dict[str, Any],
        lines: dict[str, list[dict[str, Any]]],
        payments: dict[str, list[dict[str, Any]]],
    ) -> Invoice | SourceProblem:
        key = clean_text(header.get("TxnID"))
        modified = None
        try:
            modified = self._modified(header.get("TimeModified"))
            if not key:
                raise ValueError("the invoice has no TxnID")
            customer_key = clean_text(header.get("CustomerRefListID"))
            if not customer_key:
                raise ValueError("the invoice has no customer")
            date = self._modified(header.get("TxnDate"))
            if date is None:
                raise ValueError("the invoice has no date")
            subtotal = money(header.get("Subtotal") if header.get("Subtotal") is not None else 0)
            tax = money(header.get("SalesTaxTotal") if header.get("SalesTaxTotal") is not None else 0)
            included = _flag(header.get("IsTaxIncluded"))
            gross = subtotal if included else subtotal + tax
            net = gross - tax
            is_credit = gross < 0
            sign = Decimal(-1) if is_credit else Decimal(1)

            invoice_lines = tuple(
                self._line(index, row, sign) for index, row in enumerate(lines.get(key, []), 1)
            )
            applied = [self._payment(row, key) for row in payments.get(key, [])]
            for payment in applied:
                if payment.modified is not None and (modified is None or payment.modified > modified):
                    modified = payment.modified
            balance = header.get("BalanceRemaining")
            outstanding = abs(money(balance)) if balance is not None else None
            if outstanding is None and _flag(header.get("IsPaid")):
                outstanding = Decimal("0.00")
            applied_amount = header.get("AppliedAmount")
            amount_paid = (
                abs(money(applied_amount))
                if applied_amount is not None
                else sum((payment.amount for payment in applied), Decimal("0.00"))
            )
            paid_date = (
                max((payment.date for payment in applied), default=None)
                if outstanding == 0 and gross != 0
                else None
            )
            return Invoice(
                key=key,
                number=clean_text(header.get("RefNumber"), 11),
                customer_key=customer_key,
                date=date,
                due_date=self._modified(header.get("DueDate")),
                lines=invoice_lines,
                net=abs(net),
                tax=abs(tax),
                gross=abs(gross),
                is_credit=is_credit,
                amount_paid=amount_paid,
                outstanding=outstanding,
                paid_date=paid_date,
                reference=clean_text(header.get("PONumber")),
                payments=tuple(applied),
                modified=modified,
            )
        except (ValueError, ArithmeticError, TypeError) as exc:
            return SourceProblem(
                "invoices",
                key,
                f"Invoice {clean_text(header.get('RefNumber'))!r} could not be read: {exc}.",
                modified=modified,
            )

    def _line(self, number: int, row: dict[str, Any], sign: Decimal) -> InvoiceLine:
        quantity = row.get("InvoiceLineQuantity")
        rate = row.get("InvoiceLineRate")
        amount = row.get("InvoiceLineAmount")
        tax = row.get("InvoiceLineTaxAmount")
        return InvoiceLine(
            number=number,
            description=clean_text(row.get("InvoiceLineDesc")),
            quantity=to_decimal(quantity if quantity is not None else 0, _QUANTITY) * sign,
            unit_price=money(rate if rate is not None else 0),
            net=money(amount if amount is not None else 0) * sign,
            tax=money(tax) * sign if tax is not None else Decimal("0.00"),
            item_key=clean_text(row.get("InvoiceLineItemRefListID")),
            tax_code=clean_text(row.get("InvoiceLineSalesTaxCodeRefListID")),
        )

    def _payment(self, row: dict[str, Any], invoice_key: str) -> Payment:
        date = self._modified(row.get("TxnDate"))
        if date is None:
            raise ValueError("a payment applied to it has no date")
        return Payment(
            key=f"{clean_text(row.get('TxnID'))}:{invoice_key}",
            invoice_key=invoice_key,
            customer_key=clean_text(row.get("CustomerRefListID")),
            date=date,
            amount=money(row.get("AppliedToTxnPaymentAmount")),
            method=clean_text(row.get("PaymentMethodRefFullName")),
            reference=clean_text(row.get("RefNumber")),
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
