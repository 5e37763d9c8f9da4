"""Canonical records: what every connector yields and what the engine maps to Halo.

Why: connectors differ wildly (Sage's DOUBLE money, QuickBooks' offset timestamps, Sage 50 Canada's tax text),
so they all convert to one shape here, with money as quantised ``Decimal``, dates timezone-aware and text as
``str``. The engine and the Halo mapping never see a driver's raw row.

The records are frozen ``msgspec.Struct``s, not frozen dataclasses: a read builds hundreds of thousands of
them, and a frozen dataclass sets each field through ``object.__setattr__`` (3.5 µs an invoice line on a
slow machine, against 0.23 µs). ``gc=False``: a record holds only text, numbers, dates and tuples of
records, so it can never be part of a reference cycle.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

import msgspec

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")

EntityName = Literal["tax_rates", "customers", "suppliers", "items", "invoices", "payments"]
# What an invoice line is: goods or a service ("item"), a description-only line ("text"), a discount (its
# amounts are negative) or the document's carriage (Sage 50 UK keeps it on the header, not in INVOICE_ITEM).
LineKind = Literal["item", "text", "discount", "carriage"]
# Dependency order: a record may only refer to records of entities earlier in this tuple.
ENTITY_ORDER: tuple[EntityName, ...] = (
    "tax_rates",
    "customers",
    "suppliers",
    "items",
    "invoices",
    "payments",
)


def to_decimal(value: object, places: Decimal = CENT) -> Decimal:
    """Turn a driver value (float, int, str, Decimal) into a quantised Decimal without float noise.

    A float goes through ``repr`` (the shortest string that round-trips), so Sage's DOUBLE 19.99 becomes
    Decimal('19.99'), not 19.989999999999998436805981327779591083526611328125.
    Raises ValueError for None, NaN, infinities and text that is not a number.
    """
    if value is None:
        raise ValueError("no value")
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        value = repr(value)
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    try:
        return number.quantize(places, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # more digits than a Decimal context holds: no real amount is that big
        raise ValueError(f"number too large: {value!r}") from exc


def money(value: object) -> Decimal:
    """Money in the currency's minor unit (2 places)."""
    return to_decimal(value, CENT)


def optional_money(value: object) -> Decimal | None:
    return None if value is None else money(value)


def aware(value: object, local_zone: tzinfo | None = None) -> datetime | None:
    """A timezone-aware datetime from a driver value; naive values are taken to be in ``local_zone``.

    Accepts datetime, date, and ISO-8601 text (QuickBooks' ``2024-03-01T10:15:00-08:00``). Returns None for
    None or empty text. Raises ValueError for text that is not a date.

    A naive wall-clock time in the repeated hour of a DST fall-back is ambiguous; it is read as its EARLIER
    instant (``fold=0``), so a cursor built from it can only lag, never run ahead. With no ``local_zone``
    the PC's own zone rules apply to that date (not today's offset, which is wrong half the year).
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"not a date: {text!r}") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return _in_zone(value, local_zone)
        return value
    if isinstance(value, date):
        return _in_zone(datetime.combine(value, time.min), local_zone)
    raise ValueError(f"not a date: {value!r}")


def _in_zone(naive: datetime, zone: tzinfo | None) -> datetime:
    if zone is not None:
        return naive.replace(tzinfo=zone, fold=0)
    return naive.replace(fold=0).astimezone()  # the PC's zone, with the offset in force on that date


def utc(value: datetime | None) -> datetime | None:
    """``value`` as UTC (naive taken as UTC), so two times compare by instant.

    Why: Python compares two datetimes that share one tzinfo by wall clock, ignoring ``fold``: 01:10 GMT
    (after a fall-back) would sort before 01:35 BST although it happened later.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def fall_back_widening(
    since: datetime, zone: tzinfo | None, span: timedelta = timedelta(hours=3)
) -> timedelta:
    """How much earlier a read must start so a wall-clock ``>= since`` filter survives a DST fall-back.

    Why: the books store naive local times; after clocks go back, an edit at 01:10 (second pass) carries
    a smaller wall time than a cursor at 01:35 (first pass) although it happened later. When the zone's
    offset drops within ``span`` after ``since``, the read starts that much earlier.
    """
    start = utc(since)
    assert start is not None
    before = _offset(start, zone)
    after = _offset(start + span, zone)
    return max(timedelta(0), before - after)


def _offset(instant: datetime, zone: tzinfo | None) -> timedelta:
    local = instant.astimezone(zone) if zone is not None else instant.astimezone()
    return local.utcoffset() or timedelta(0)


def clean_text(value: object, max_length: int | None = None) -> str:
    """Unicode text with NULs and other C0 control characters (bar tab/newline) removed, trimmed."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = "".join(ch for ch in str(value) if ch in "\t\n" or (ord(ch) >= 32 and ord(ch) != 127)).strip()
    if max_length is not None:
        text = text[:max_length]
    return text


class Address(msgspec.Struct, frozen=True, gc=False):
    lines: tuple[str, ...] = ()
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""

    def is_empty(self) -> bool:
        return not (any(self.lines) or self.city or self.region or self.postcode or self.country)


class TaxComponent(msgspec.Struct, frozen=True, gc=False):
    """One tax authority inside a code (Sage 50 Canada: 'GST @ 5%; QST @ 9.975%')."""

    authority: str
    rate: Decimal


class TaxRate(msgspec.Struct, frozen=True, gc=False):
    key: str  # the source's own key, e.g. Sage 50 UK 'T1', QuickBooks ListID
    code: str  # what a person calls it ('T1', 'GQ', 'Tax')
    name: str
    rate: Decimal  # percent, e.g. Decimal('20.0000')
    inclusive: bool = False  # prices already include the tax
    components: tuple[TaxComponent, ...] = ()
    active: bool = True
    modified: datetime | None = None


class Customer(msgspec.Struct, frozen=True, gc=False):
    key: str  # Sage 50 UK ACCOUNT_REF, QuickBooks ListID, Sage 50 Canada lId
    name: str
    email: str = ""
    phone: str = ""
    contact_name: str = ""
    tax_code: str = ""  # the TaxRate.key of the customer's default tax code, "" when none
    tax_number: str = ""  # VAT / GST registration
    address: Address = msgspec.field(default_factory=Address)
    delivery_address: Address = msgspec.field(default_factory=Address)
    website: str = ""
    currency: str = ""
    active: bool = True
    deleted: bool = False
    modified: datetime | None = None


class Supplier(msgspec.Struct, frozen=True, gc=False):
    """A supplier (vendor): Sage 50 UK PURCHASE_LEDGER, QuickBooks Vendor, Sage 50 Canada vendors."""

    key: str  # Sage 50 UK ACCOUNT_REF, QuickBooks ListID, Sage 50 Canada lId
    name: str
    email: str = ""
    phone: str = ""
    contact_name: str = ""
    tax_code: str = ""  # the TaxRate.key of the supplier's default (purchase) tax code, "" when none
    tax_number: str = ""
    address: Address = msgspec.field(default_factory=Address)
    website: str = ""
    currency: str = ""
    active: bool = True
    deleted: bool = False
    modified: datetime | None = None


class Item(msgspec.Struct, frozen=True, gc=False):
    key: str  # STOCK_CODE, ListID, tinvent.lId
    code: str  # the part/stock code a person sees
    name: str
    description: str = ""
    price: Decimal = Decimal("0.00")
    cost: Decimal | None = None
    tax_code: str = ""  # TaxRate.key, "" when none
    nominal_code: str = ""  # income / sales account
    purchase_nominal_code: str = ""
    is_service: bool = False
    active: bool = True
    deleted: bool = False
    modified: datetime | None = None


class InvoiceLine(msgspec.Struct, frozen=True, gc=False):
    number: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    net: Decimal
    tax: Decimal
    item_key: str = ""  # Item.key, "" for a free-text/service line
    tax_code: str = ""  # TaxRate.key
    tax_rate: Decimal | None = None  # percent
    nominal_code: str = ""
    kind: LineKind = "item"


class Payment(msgspec.Struct, frozen=True, gc=False):
    key: str  # unique per payment allocation in the source
    invoice_key: str
    customer_key: str
    date: datetime
    amount: Decimal
    method: str = ""
    reference: str = ""
    modified: datetime | None = None


class Invoice(msgspec.Struct, frozen=True, gc=False):
    key: str  # unique across invoices and credit notes of the source
    number: str  # the document number the customer sees
    customer_key: str
    date: datetime
    lines: tuple[InvoiceLine, ...]
    net: Decimal
    tax: Decimal
    gross: Decimal
    due_date: datetime | None = None
    is_credit: bool = False  # amounts are positive; this flag says it is a credit note
    amount_paid: Decimal = Decimal("0.00")
    outstanding: Decimal | None = None
    paid_date: datetime | None = None
    currency: str = ""  # ISO code of the document's own currency when it is not the books' base currency
    exchange_rate: Decimal | None = None  # the books' rate for a foreign-currency document (as stored)
    posted: bool = True
    reference: str = ""  # customer order number / PO
    payments: tuple[Payment, ...] = ()
    deleted: bool = False
    modified: datetime | None = None

    @property
    def is_paid(self) -> bool:
        return self.outstanding is not None and self.outstanding <= 0 and self.gross != 0


class SourceProblem(msgspec.Struct, frozen=True, gc=False):
    """A row a stream could not turn into a record: the rest of the stream goes on."""

    entity: EntityName
    key: str  # the row's key as far as it could be read ("" when even that failed)
    message: str  # what is wrong, in words an office manager understands
    action: str = "Correct the record in the accounting package; it will be read again on the next sync."
    modified: datetime | None = None


Record = TaxRate | Customer | Supplier | Item | Invoice | Payment
