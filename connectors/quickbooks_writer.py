"""Halo's invoices and credit notes posted INTO QuickBooks Desktop by QODBC inserts (core.books.BooksWriter).

Why this shape (docs/writing-quickbooks.md has the evidence for each point):
- QODBC creates a transaction only through its line table: one ``INSERT INTO "InvoiceLine"`` (or
  ``"CreditMemoLine"``) per line, every line carrying the header fields, ``FQSaveToCache = 1`` on every line
  but the last and 0 on the last, which sends header and lines to QuickBooks as one SDK request (Flexquarters
  KB 2345 "How to create multiple lines in the Invoice, Purchase and Journal table", KB 3103 "How
  FQSaveToCache works"). Values are always bound parameters.
- The cache is "specific to your current QODBC connection" (KB 3103). So a link that dies after some lines
  were cached but before the last saved nothing: that failure is a plain TransientError and the document is
  simply posted again. A link that dies *during* the last insert leaves the outcome unknown:
  TransientError(maybe_written=True), and the caller looks the marker up (``find_posted``) before any retry.
  After any failure the connection is dropped, so no stale cached line can join the next document.
- The exactly-once marker (``HALO-<id>`` / ``HALO-C<id>``) goes in the header's ``Other`` field (QODBC's
  column ``CustomFieldOther``): 29 characters in qbXML InvoiceAdd / CreditMemoAdd, unused by QuickBooks
  itself, and kept apart from ``PONumber`` (25, the customer's order number) and ``Memo`` (4095, the user's
  text). ``find_posted`` looks it up in ``Invoice`` and ``CreditMemo`` with short IN lists.
- Keys are the books' ListIDs, the same keys the reader (connectors/quickbooks.py) gives customers, items
  and sales tax codes, so mappings made on the read side post unchanged: ``CustomerRefListID``,
  ``...ItemRefListID``, ``...SalesTaxCodeRefListID``. QuickBooks computes each line's tax from its code.

Not supported here (the document is refused with a reason): foreign-currency documents, lines with an amount
but no item, numbers longer than QuickBooks' 11 characters. Group items are never sent (Halo's lines are
posted as plain item lines).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.base import ConnectionFactory
from connectors.common import MAX_IN_LIST, chunks, placeholders, text
from connectors.errors import error_from_odbc, sqlstate_of
from connectors.registry import SourceConfig, connection_factory
from connectors.sql import iter_rows
from core.books import BooksDocument, BooksKind, BooksLine, PostedDocument
from core.errors import AuthError, ConfigError, LedgerBridgeError, RecordError, TransientError
from core.records import Address, Customer, Item

log = logging.getLogger("ledgerbridge.connectors.quickbooks_writer")

PACKAGE = "quickbooks"
# qbXML InvoiceAdd / CreditMemoAdd / CustomerAdd / ItemServiceAdd maximum lengths (Intuit's SDK reference).
MARKER_COLUMN = "CustomFieldOther"  # qbXML's Other, as QODBC names it
MARKER_LENGTH = 29
NUMBER_LENGTH = 11  # RefNumber
PO_NUMBER_LENGTH = 25
MEMO_LENGTH = 4095
DESC_LENGTH = 4095
CUSTOMER_NAME_LENGTH = 41
ITEM_NAME_LENGTH = 31
# The item lists a line's ListID may be in (discount, subtotal and other-charge lines are items too).
ITEM_TABLES = (
    "ItemService",
    "ItemNonInventory",
    "ItemInventory",
    "ItemOtherCharge",
    "ItemDiscount",
    "ItemSubtotal",
)
_CENT = Decimal("0.01")
_ADDRESS_LENGTHS = (("City", 31), ("State", 21), ("PostalCode", 13), ("Country", 31))
# QuickBooks SDK status codes QODBC puts in its messages ("[QODBC] Error: 3140 - ...").
_STATUS = re.compile(r"error:?\s*(3\d{3})\b", re.IGNORECASE)
_LOCKED = frozenset({"3170", "3175", "3176", "3180"})  # list or record in use by another user: try later
# Words of a lost link or an unavailable company file (as opposed to QuickBooks refusing the statement).
_LINK_WORDS = (
    "communication link",
    "link failure",
    "connection failure",
    "connection was closed",
    "not connected",
    "could not start quickbooks",
    "is not running",
    "company file",
    "timeout expired",
    "timed out",
    "locked",
    "busy",
)
_ACTIONS = {
    "3140": "Check that the customer, items and sales tax codes it uses exist and are active in QuickBooks "
    "(Mappings), then post it again.",
    "3070": "Shorten the text named above in Halo, then post it again.",
    "3100": "A QuickBooks customer, vendor, employee or item already has that name: map the Halo record to "
    "it in Mappings, or rename one of them.",
}
_REFUSED_ACTION = "Correct it in Halo or in Mappings, then post it again; the rest of the run carries on."


def _status_code(exc: BaseException) -> str:
    match = _STATUS.search(str(exc))
    return match.group(1) if match else ""


def write_error(exc: BaseException, *, what: str, maybe_written: bool) -> LedgerBridgeError:
    """A driver failure during a write, grouped by what the caller does next.

    QuickBooks' own refusal (an SDK status code, or any error the driver gives for the statement itself)
    is a RecordError naming ``what``; a lost link, a locked record or a company file that is not open is a
    TransientError (``maybe_written`` when the statement may have reached QuickBooks); a missing driver or a
    refused login keep the ConfigError / AuthError the reader gives.
    """
    if isinstance(exc, LedgerBridgeError):
        return exc
    code = _status_code(exc)
    detail_error = error_from_odbc(exc, package=PACKAGE, during=f"writing {what}")
    detail = detail_error.detail
    if code in _LOCKED:
        return TransientError(
            f"QuickBooks is busy with {what} (another user holds the list or record).",
            action="LedgerBridge will post it on the next run.",
            detail=detail,
            maybe_written=maybe_written,
        )
    if code:
        return RecordError(
            f"QuickBooks refused {what}: {_driver_text(exc)}",
            action=_ACTIONS.get(code, _REFUSED_ACTION),
            detail=detail,
        )
    state = sqlstate_of(exc)
    lower = str(exc).lower()
    if state.startswith("08") or state in ("HYT00", "HYT01") or any(word in lower for word in _LINK_WORDS):
        return TransientError(
            f"The link to QuickBooks failed while writing {what}.",
            action="Make sure QuickBooks is running with the company file open; LedgerBridge will "
            + ("look for it in QuickBooks before posting it again." if maybe_written else "try again."),
            detail=detail,
            maybe_written=maybe_written,
        )
    if isinstance(detail_error, ConfigError | AuthError):
        return detail_error
    return RecordError(
        f"QuickBooks refused {what}: {_driver_text(exc)}", action=_REFUSED_ACTION, detail=detail
    )


def _driver_text(exc: BaseException) -> str:
    """The driver's message without its bracketed prefixes and native codes, for a person to read."""
    args: tuple[Any, ...] = getattr(exc, "args", ())
    raw = args[1] if len(args) >= 2 and isinstance(args[1], str) else str(exc)
    cleaned = re.sub(r"^(\s*\[[^\]]*\])+\s*", "", raw)
    cleaned = re.sub(r"(\s*\(\d+\))+\s*(\(SQL\w+\))?\s*$", "", cleaned)
    return cleaned.strip() or raw.strip()


def _label(document: BooksDocument) -> str:
    kind = "credit note" if document.is_credit else "invoice"
    number = document.number or str(document.halo_id)
    return f"Halo {kind} {number} ({document.reference})"


class QuickBooksWriter:
    """Posts documents and creates customers and items in QuickBooks Desktop through QODBC (or QRemote).

    ``connect`` opens a DB-API connection to the same company the reader reads (``from_source`` builds it
    from the reader's SourceConfig and password). ``default_income_account`` is the QuickBooks account
    (FullName) for new items whose Halo item maps to no income account.
    """

    kind = PACKAGE

    def __init__(
        self,
        connect: ConnectionFactory,
        *,
        default_income_account: str = "",
        chunk_size: int = MAX_IN_LIST,
    ) -> None:
        self._connect = connect
        self.default_income_account = default_income_account.strip()
        self.chunk_size = chunk_size
        self._connection: Any = None

    @classmethod
    def from_source(cls, source: SourceConfig, password: str | None) -> QuickBooksWriter:
        """A writer on the company the reader of ``source`` reads, opened the same way (autocommit); items it
        creates go to ``source.income_account`` unless their own account is given."""
        return cls(connection_factory(source, password), default_income_account=source.income_account)

    # --- the seam ------------------------------------------------------------------------------------------

    def supports(self) -> frozenset[BooksKind]:
        return frozenset({"invoices", "credit_notes", "customers", "items"})

    def find_posted(self, references: Sequence[str]) -> dict[str, PostedDocument]:
        """Invoices and credit memos whose ``CustomFieldOther`` carries one of ``references``."""
        return {reference: posted for reference, (posted, _total) in self._lookup(references).items()}

    def post(self, document: BooksDocument) -> PostedDocument:
        """Insert the document's lines (all but the last cached, the last saves) and return what QuickBooks
        holds for its marker. Raises RecordError before sending anything when QuickBooks could not take it."""
        what = _label(document)
        self._check(document, what)
        table = "CreditMemoLine" if document.is_credit else "InvoiceLine"
        header = self._header(document)
        last = len(document.lines) - 1
        for index, line in enumerate(document.lines):
            columns = {**header, **self._line(table, line), "FQSaveToCache": 0 if index == last else 1}
            sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({placeholders(len(columns))})'
            try:
                self._execute(sql, list(columns.values()))
            except Exception as exc:
                self._drop_connection()  # a refused or lost save must not leave cached lines behind
                raise write_error(exc, what=f"{what}, line {index + 1}", maybe_written=index == last) from exc
        try:
            found = self._lookup([document.reference]).get(document.reference)
        except LedgerBridgeError as error:  # saved, but not confirmed: it must be looked up before a retry
            raise TransientError(
                f"QuickBooks saved {what} but LedgerBridge could not read it back: {error.message}",
                action="LedgerBridge will look for it in QuickBooks before posting it again.",
                detail=error.detail,
                maybe_written=True,
            ) from error
        if found is None:
            raise TransientError(
                f"QuickBooks accepted {what} but it cannot be found by its marker {document.reference}.",
                action="Look for it in QuickBooks (its Other field) before posting it again; LedgerBridge "
                "will look for it on the next run.",
                maybe_written=True,
            )
        posted, total = found
        if total is not None and abs(total - document.gross) > _CENT:
            log.warning(
                "%s: QuickBooks' total %s differs from Halo's %s (QuickBooks computes the tax from each "
                "line's sales tax code).",
                what,
                total,
                document.gross,
            )
        return posted

    def has_customer(self, customer_key: str) -> bool:
        return self._exists("Customer", customer_key, during="looking up a customer")

    def create_customer(self, customer: Customer) -> str:
        """Add the customer (QODBC ``INSERT INTO Customer``) and return its new ListID.

        Idempotent by Name: QuickBooks names are unique (status 3100), so a customer with exactly that name
        (one this call created before a crash, typically) is returned instead of a second add.
        """
        name = customer.name.strip()
        what = f"the customer {name!r}"
        if not name or len(name) > CUSTOMER_NAME_LENGTH:
            raise RecordError(
                f"The customer name {name!r} cannot be a QuickBooks customer name "
                f"(1 to {CUSTOMER_NAME_LENGTH} characters).",
                action="Shorten the client's name in Halo, or map it to an existing QuickBooks customer "
                "in Mappings > Customers.",
                field="name",
            )
        existing = self._key_by_name("Customer", name)
        if existing:
            return existing
        columns: dict[str, Any] = {"Name": name, "CompanyName": name}
        columns.update(self._address_columns("BillAddress", customer.address))
        columns.update(self._address_columns("ShipAddress", customer.delivery_address))
        for column, value, size in (
            ("Phone", customer.phone, 21),
            ("Email", customer.email, 1023),
            ("Contact", customer.contact_name, 41),
        ):
            if value.strip():
                columns[column] = text(value, size)
        if customer.tax_code:
            columns["SalesTaxCodeRefListID"] = customer.tax_code
        return self._add_list_entry("Customer", columns, what)

    def has_item(self, item_key: str) -> bool:
        """Whether any item list holds ``item_key`` (a list the edition does not have is skipped)."""
        self._open()  # a company that cannot be opened is an error, not "no such item"
        for table in ITEM_TABLES:
            try:
                if self._exists(table, item_key, during=f"looking up an item in {table}"):
                    return True
            except ConfigError as error:
                if "does not have the table" not in error.message:
                    raise
        return False

    def create_item(self, item: Item) -> str:
        """Add a service item (``ItemService``) or a non-inventory part (``ItemNonInventory``) with its sales
        price, description and income account; returns its ListID. Idempotent by Name like customers."""
        name = (item.code or item.name).strip()
        what = f"the item {name!r}"
        if not name or len(name) > ITEM_NAME_LENGTH:
            raise RecordError(
                f"The item code {name!r} cannot be a QuickBooks item name (1 to {ITEM_NAME_LENGTH} "
                "characters).",
                action="Shorten the item's code in Halo, or map it to an existing QuickBooks item in "
                "Mappings > Items.",
                field="code",
            )
        table = "ItemService" if item.is_service else "ItemNonInventory"
        existing = self._key_by_name(table, name)
        if existing:
            return existing
        account = item.nominal_code.strip() or self.default_income_account
        if not account:
            raise RecordError(
                f"{what.capitalize()} cannot be created in QuickBooks: no income account is set for it.",
                action="Map the Halo item's income account in Mappings > Items, or set the income account "
                "for new items in Settings > Sync > Halo to the books.",
                field="nominal_code",
            )
        if not self._key_by_full_name("Account", account):
            raise RecordError(
                f"{what.capitalize()} cannot be created in QuickBooks: there is no account {account!r}.",
                action="Enter the full name of an existing QuickBooks income account in Mappings > Items "
                "or Settings > Sync > Halo to the books.",
                field="nominal_code",
            )
        columns: dict[str, Any] = {
            "Name": name,
            "SalesOrPurchaseDesc": text(item.description or item.name, DESC_LENGTH),
            "SalesOrPurchasePrice": item.price,
            "SalesOrPurchaseAccountRefFullName": account,
        }
        if item.tax_code:
            columns["SalesTaxCodeRefListID"] = item.tax_code
        return self._add_list_entry(table, columns, what)

    def close(self) -> None:
        self._drop_connection()

    def __enter__(self) -> QuickBooksWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- documents -----------------------------------------------------------------------------------------

    @staticmethod
    def _check(document: BooksDocument, what: str) -> None:
        """What QuickBooks could not take, refused before a line is sent (nothing to undo)."""
        if not document.lines:
            raise RecordError(
                f"{what} has no lines; QuickBooks cannot hold a document without lines.",
                action="Add a line to it in Halo, or leave it out of posting.",
            )
        marker = document.reference.strip()
        if not marker or len(marker) > MARKER_LENGTH:
            raise RecordError(
                f"{what}: the marker {marker!r} does not fit QuickBooks' Other field "
                f"(1 to {MARKER_LENGTH} characters).",
                action="Report this to your IT support: the marker is made by LedgerBridge.",
            )
        if len(document.number) > NUMBER_LENGTH:
            raise RecordError(
                f"{what}: the number {document.number!r} is longer than QuickBooks' {NUMBER_LENGTH} "
                "characters.",
                action="Let QuickBooks number posted invoices (Settings > Sync > Halo to the books: Number "
                'in the books, or number_from = "books").',
                field="number",
            )
        if document.currency:
            raise RecordError(
                f"{what} is in {document.currency}; posting in another currency than the company's own is "
                "not supported for QuickBooks.",
                action="Post it by hand in QuickBooks.",
                field="currency",
            )
        for number, line in enumerate(document.lines, start=1):
            if not line.item_key and line.net:
                raise RecordError(
                    f"{what}: line {number} ({line.description[:40]!r}) has an amount but no "
                    "QuickBooks item.",
                    action="Map the Halo item of that line to a QuickBooks item in Mappings > Items.",
                    field="item_key",
                )

    @staticmethod
    def _header(document: BooksDocument) -> dict[str, Any]:
        """The header fields every line repeats (the same on each, as QODBC requires)."""
        header: dict[str, Any] = {
            "CustomerRefListID": document.customer_key,
            "TxnDate": _day(document.date),
        }
        if document.number:
            header["RefNumber"] = document.number
        if document.due_date is not None:
            header["DueDate"] = _day(document.due_date)
        if document.customer_reference.strip():
            header["PONumber"] = text(document.customer_reference, PO_NUMBER_LENGTH)
        if document.memo.strip():
            header["Memo"] = text(document.memo, MEMO_LENGTH)
        header[MARKER_COLUMN] = document.reference.strip()
        return header

    @staticmethod
    def _line(table: str, line: BooksLine) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        if line.item_key:
            columns[f"{table}ItemRefListID"] = line.item_key
        if line.description:
            columns[f"{table}Desc"] = text(line.description, DESC_LENGTH)
        if line.item_key:
            # Quantity and rate only when they make the amount: QuickBooks multiplies them itself, and an
            # amount alone is a complete line (KB 2345's one-line invoice sends no quantity).
            if line.quantity and (line.quantity * line.unit_price).quantize(_CENT) == line.net:
                columns[f"{table}Quantity"] = line.quantity
                columns[f"{table}Rate"] = line.unit_price
            columns[f"{table}Amount"] = line.net
        if line.tax_code:
            columns[f"{table}SalesTaxCodeRefListID"] = line.tax_code
        if line.account:
            columns[f"{table}OverrideItemAccountRefFullName"] = line.account
        return columns

    def _lookup(self, references: Sequence[str]) -> dict[str, tuple[PostedDocument, Decimal | None]]:
        wanted = sorted({reference.strip() for reference in references if reference.strip()})
        found: dict[str, tuple[PostedDocument, Decimal | None]] = {}
        for table in ("Invoice", "CreditMemo"):
            for chunk in chunks(wanted, self.chunk_size):
                sql = (
                    f"SELECT TxnID, RefNumber, {MARKER_COLUMN}, Subtotal, SalesTaxTotal FROM {table} "
                    f"WHERE {MARKER_COLUMN} IN ({placeholders(len(chunk))}) ORDER BY TxnID"
                )
                for row in self._marked_rows(table, sql, chunk):
                    marker = text(row.get(MARKER_COLUMN))
                    if marker in found:
                        log.warning("QuickBooks holds more than one transaction with the marker %s.", marker)
                        continue
                    posted = PostedDocument(
                        reference=marker,
                        books_key=text(row.get("TxnID")),
                        books_number=text(row.get("RefNumber")),
                    )
                    found[marker] = (posted, _total(row))
        return found

    def _marked_rows(self, table: str, sql: str, markers: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of one marker lookup; a QODBC without the marker column says what to do about it."""
        try:
            return self._rows(sql, markers, during=f"looking up posted documents in {table}")
        except ConfigError as error:
            if "does not have the table or column" not in error.message:
                raise
            raise ConfigError(
                f"QuickBooks' {table} table has no {MARKER_COLUMN} column (the Other field), where "
                "LedgerBridge keeps the mark that stops a Halo invoice being posted twice.",
                action="Update QODBC (the Other field needs QuickBooks 2007, qbXML 6.0, or later), or turn "
                "off posting in Settings > Sync > Halo to the books.",
                detail=error.detail,
            ) from error

    # --- list entries --------------------------------------------------------------------------------------

    @staticmethod
    def _address_columns(prefix: str, address: Address) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        for number, line in enumerate(address.lines[:5], start=1):
            if line.strip():
                columns[f"{prefix}Addr{number}"] = text(line, 41)
        for part, size in _ADDRESS_LENGTHS:
            value = {
                "City": address.city,
                "State": address.region,
                "PostalCode": address.postcode,
                "Country": address.country,
            }[part]
            if value.strip():
                columns[f"{prefix}{part}"] = text(value, size)
        return columns

    def _add_list_entry(self, table: str, columns: dict[str, Any], what: str) -> str:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(len(columns))})"
        try:
            self._execute(sql, list(columns.values()))
        except Exception as exc:
            self._drop_connection()
            raise write_error(exc, what=what, maybe_written=True) from exc
        key = self._key_by_name(table, str(columns["Name"]))
        if not key:
            raise TransientError(
                f"QuickBooks accepted {what} but it cannot be found by its name.",
                action="LedgerBridge will look for it again on the next run.",
                maybe_written=True,
            )
        return key

    def _exists(self, table: str, key: str, *, during: str) -> bool:
        if not key:
            return False
        sql = f"SELECT ListID FROM {table} WHERE ListID = ?"
        return any(True for _ in self._rows(sql, [key], during=during))

    def _key_by_name(self, table: str, name: str) -> str:
        for row in self._rows(f"SELECT ListID FROM {table} WHERE Name = ?", [name], during=f"finding {name}"):
            return text(row.get("ListID"))
        return ""

    def _key_by_full_name(self, table: str, full_name: str) -> str:
        sql = f"SELECT ListID FROM {table} WHERE FullName = ?"
        for row in self._rows(sql, [full_name], during=f"finding {full_name}"):
            return text(row.get("ListID"))
        return ""

    # --- the connection ------------------------------------------------------------------------------------

    def _open(self) -> Any:
        if self._connection is None:
            try:
                self._connection = self._connect()
            except LedgerBridgeError:
                raise
            except Exception as exc:
                raise error_from_odbc(exc, package=PACKAGE, during="connecting") from exc
        return self._connection

    def _execute(self, sql: str, params: list[Any]) -> None:
        cursor = self._open().cursor()
        try:
            cursor.execute(sql, params)
        finally:
            try:
                cursor.close()
            except Exception:  # a dead link cannot close a cursor either; the error above says why
                log.debug("Closing a cursor failed after a write.", exc_info=True)

    def _rows(self, sql: str, params: Sequence[Any], *, during: str) -> list[dict[str, Any]]:
        try:
            return list(iter_rows(self._open(), sql, params, package=PACKAGE, during=during))
        except TransientError:
            self._drop_connection()  # a lost link: the next call opens a new one
            raise

    def _drop_connection(self) -> None:
        """Forget the connection (and with it QODBC's per-connection cache); the next call opens a new one."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already gone
                log.debug("Closing the QuickBooks connection failed.", exc_info=True)


def _day(value: datetime) -> date:
    """The document's own calendar date (Halo's date as the user sees it), as a date parameter."""
    return value.date()


def _total(row: dict[str, Any]) -> Decimal | None:
    try:
        subtotal = Decimal(str(row.get("Subtotal"))) if row.get("Subtotal") is not None else None
        tax = Decimal(str(row.get("SalesTaxTotal") or 0))
    except ArithmeticError:
        return None
    return None if subtotal is None else (subtotal + tax).quantize(_CENT)
