"""Canonical records -> the JSON Halo takes, plus the content hash that decides "changed or not".

Why: field names come ONLY from Halo's published OpenAPI schemas (Tax, Area, Site/AddressStore, Item,
InvoiceHeader/InvoiceDetail, InvoicePayment_List, Company) — Halo (and the sandbox) reject anything else.
Money stays Decimal until this edge, where it becomes a JSON number via ``float(str(d))`` (exactly the
printed value); dates are ISO 8601 with their offset. The hash covers the payload without Halo ids, so
re-linking the same content to another record does not look like a change, and a resync of unchanged books
sends nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from core.records import Address, Customer, Invoice, InvoiceLine, Item, Payment, Supplier, TaxRate

MAIN_SITE_NAME = "Main Site"
ADDRESS_LINES = 4
# Connector kinds whose payments are Sage 50 payments (Halo keeps their reference in sage50_reference).
SAGE50_KINDS = frozenset({"sage50uk", "demo"})


def number(value: Decimal) -> float | int:
    """A Decimal as a JSON number at the edge: whole values as int, others via their printed text.

    The float of the printed text is worked out first, as most amounts need it: a value whose float has a
    fraction is no whole number, and a whole one below 2**53 is its float exactly, so only a float without
    a fraction is compared with the value (``_number`` is the rule as written; NaNs and what is not a
    Decimal take it). The answers for the first values met are kept (``_kept_numbers``).
    """
    if type(value) is Decimal and value.is_finite():
        kept = _kept_numbers.get(value)
        if kept is not None:
            return kept
        converted = float(str(value))
        result: float | int = converted
        if converted.is_integer() and -_WHOLE_LIMIT < converted < _WHOLE_LIMIT:
            whole = int(converted)
            if whole == value:
                result = whole
        if len(_kept_numbers) < _KEPT_NUMBERS:
            _kept_numbers[value] = result
        return result
    return _number(value)


def _number(value: Decimal) -> float | int:
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(str(value))


_WHOLE_LIMIT = float(2**53)
# Books repeat their amounts (prices, quantities, tax rates), and working one out costs a microsecond or two:
# the first ones met are kept. Sound because the answer depends on the value alone: equal Decimals
# (Decimal('1.50') == Decimal('1.5'), Decimal('-0.00') == Decimal('0')) have one exact value, so one
# correctly rounded float and one whole number. Bounded (about 0.6 MB when full), so memory stays flat.
_KEPT_NUMBERS = 4096
_kept_numbers: dict[Decimal, float | int] = {}


def timestamp(value: datetime) -> str:
    """ISO 8601 with offset; a naive value here is a programming error (records are always aware)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime reached the Halo payload")
    return value.isoformat()


def content_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of canonical JSON of the payload without ids (``id`` at any depth).

    The canonical bytes are those of ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``: the hash every installation has stored in its links, so an upgrade re-sends
    nothing. msgspec writes exactly those bytes, several times faster, for a payload of plain values (text
    keys; text, whole numbers, booleans, nulls, and floats that ``repr`` writes without an exponent, which
    is what ``number`` gives for money); anything else (1e-05, a Decimal, a mapping that is not a dict)
    takes json.dumps' own road, so the hash never changes with the road taken.
    """
    try:
        plain = _plain_without_ids(payload) if _holds_ids(payload) else payload
        canonical = _CANONICAL.encode(plain)
    except (_NotPlain, UnicodeEncodeError):
        canonical = json.dumps(
            _without_ids(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


_CANONICAL = msgspec.json.Encoder(order="sorted")

# What a payload is built from, hashed: the record and the Halo ids and labels its payload takes. Bump
# PAYLOAD_VERSION whenever a payload builder here changes what it sends for the same inputs
# (tests/test_input_fingerprints.py pins the builders' output and says so when it moves).
PAYLOAD_VERSION = 1
_INPUTS = msgspec.json.Encoder()
FINGERPRINT_SEPARATOR = "/"


def fingerprint(*inputs: object) -> str:
    """sha256 of the payload's inputs (canonical records, Halo ids, labels) and PAYLOAD_VERSION.

    Why: on a full re-read most records are unchanged, and building a payload only to find its content hash
    unchanged was most of the engine's work. When a record's inputs hash as they did when it was last sent,
    its payload would come out the same, so it is not built. msgspec writes a record's every field (Decimals
    as their text, datetimes with their offset), so any change of a field, or of an id or label passed
    here, changes the fingerprint; a change that does not change the payload only costs one rebuild.
    """
    try:
        encoded = _INPUTS.encode((PAYLOAD_VERSION, inputs))
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return ""  # an input msgspec cannot write: no fingerprint, the payload is built and hashed as before
    return hashlib.sha256(encoded).hexdigest()


def stored_hash(content_hash: str, inputs: str) -> str:
    """What a link keeps: the payload's content hash and, after the separator, its inputs' fingerprint."""
    return f"{content_hash}{FINGERPRINT_SEPARATOR}{inputs}" if inputs else content_hash


def split_stored_hash(stored: str) -> tuple[str, str]:
    """(content hash, inputs fingerprint) of a link's stored hash; ("", "") once "Sync this record again"
    cleared it, (hash, "") for a link saved before fingerprints."""
    content, _, rest = stored.partition(FINGERPRINT_SEPARATOR)
    inputs, _, _rows = rest.partition(FINGERPRINT_SEPARATOR)  # the rows' digest, if kept: sync/known_rows
    return content, inputs


_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})
# repr() (and so json.dumps) writes a float in [1e-4, 1e16) without an exponent; msgspec agrees there only.
_FIXED_POINT_LOW, _FIXED_POINT_HIGH = 1e-4, 1e16


class _NotPlain(Exception):
    """A value msgspec might write otherwise than json.dumps does."""


def _holds_ids(value: object) -> bool:
    """Whether ``value`` holds an ``id`` key at any depth; _NotPlain unless it is made of plain values only.

    Why a look, not a copy: most payloads (every create) carry no id, and msgspec writes them as they are;
    copying each dict to leave out ids that are not there was most of the hash's cost. One loop per
    container, no call per value.
    """
    if type(value) is dict:
        for key in value:
            if type(key) is not str:
                raise _NotPlain
        found = "id" in value
        items: Iterable[Any] = value.values()
    elif type(value) is list or type(value) is tuple:
        found, items = False, value
    else:
        raise _NotPlain
    for item in items:
        kind = type(item)
        if kind in _PLAIN_SCALARS:
            continue
        if kind is float:
            if item == 0.0 or _FIXED_POINT_LOW <= abs(item) < _FIXED_POINT_HIGH:
                continue
            raise _NotPlain
        if _holds_ids(item):
            found = True
    return found


def _plain_without_ids(value: Any) -> Any:
    """A copy of a plain value (``_holds_ids`` said so) without ``id`` keys."""
    if type(value) is dict:
        return {
            key: _plain_without_ids(item) if type(item) in _CONTAINERS else item
            for key, item in value.items()
            if key != "id"
        }
    return [_plain_without_ids(item) if type(item) in _CONTAINERS else item for item in value]


_CONTAINERS = frozenset({dict, list, tuple})


def _without_ids(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_ids(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list | tuple):
        return [_without_ids(v) for v in value]
    return value


def _put(payload: dict[str, Any], field: str, value: object) -> None:
    """Set optional text only when there is some, so blanks never wipe what a person typed in Halo."""
    if value:
        payload[field] = value


# --- Tax --------------------------------------------------------------------------------------------------


def tax_payload(rate: TaxRate) -> dict[str, Any]:
    return {
        "name": rate.name or rate.code,
        "code": rate.code,
        "value": number(rate.rate),
        "third_party_id": rate.key,
    }


# --- Client (schema Area) and its main Site ---------------------------------------------------------------


def client_payload(
    customer: Customer,
    *,
    tax_id: int | None,
    inactive: bool | None = None,
    toplevel_id: int | None = None,
) -> dict[str, Any]:
    """``inactive`` None leaves Halo's flag alone; ``toplevel_id`` is only sent on create."""
    payload: dict[str, Any] = {"name": customer.name, "accountsid": customer.key}
    _put(payload, "accountsemailaddress", customer.email)
    _put(payload, "tax_number", customer.tax_number)
    _put(payload, "website", customer.website)
    if tax_id is not None:
        payload["item_tax_code"] = tax_id
        payload["service_tax_code"] = tax_id
        payload["sales_tax_code"] = tax_id
    if inactive is not None:
        payload["inactive"] = inactive
    if toplevel_id:
        payload["toplevel_id"] = toplevel_id
    return payload


def address_payload(address: Address) -> dict[str, Any]:
    """AddressStore line1..line4 + postcode; city/region/country fill spare lines, extras are joined."""
    parts = [p for p in (*address.lines, address.city, address.region, address.country) if p]
    if len(parts) > ADDRESS_LINES:
        parts = [*parts[: ADDRESS_LINES - 1], ", ".join(parts[ADDRESS_LINES - 1 :])]
    payload: dict[str, Any] = {f"line{n}": text for n, text in enumerate(parts, start=1)}
    _put(payload, "postcode", address.postcode)
    return payload


def site_payload(
    customer: Customer, *, site_id: int, client_id: int, inactive: bool | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": site_id,
        "client_id": client_id,
        "name": MAIN_SITE_NAME,
        "accountsid": customer.key,
    }
    if not customer.address.is_empty():
        payload["invoice_address"] = address_payload(customer.address)
    if not customer.delivery_address.is_empty():
        payload["delivery_address"] = address_payload(customer.delivery_address)
    _put(payload, "phonenumber", customer.phone)
    if inactive is not None:
        payload["inactive"] = inactive
    return payload


# --- Supplier (schema Company) ----------------------------------------------------------------------------


def supplier_address(address: Address) -> str:
    """Company.address is one text field: the lines, city, region, postcode and country, one a line."""
    parts = (*address.lines, address.city, address.region, address.postcode, address.country)
    return "\n".join(part for part in parts if part)


def supplier_payload(
    supplier: Supplier, *, tax_id: int | None, inactive: bool | None = None
) -> dict[str, Any]:
    """The books' key goes in ``accounts_id``; ``inactive`` None leaves Halo's flag alone (as customers)."""
    payload: dict[str, Any] = {"name": supplier.name, "accounts_id": supplier.key}
    _put(payload, "email_address", supplier.email)
    _put(payload, "phone_number", supplier.phone)
    _put(payload, "contact_name", supplier.contact_name)
    _put(payload, "website", supplier.website)
    if not supplier.address.is_empty():
        payload["address"] = supplier_address(supplier.address)
    if tax_id is not None:
        payload["purchase_tax_code"] = tax_id
    if inactive is not None:
        payload["inactive"] = inactive
    return payload


# --- Item -------------------------------------------------------------------------------------------------


def item_payload(item: Item, *, tax_id: int | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": item.name or item.code,
        "baseprice": number(item.price),
        "accountsid": item.key,
        "internalreference": item.code,
    }
    _put(payload, "description", item.description)
    if item.cost is not None:
        payload["costprice"] = number(item.cost)
    if tax_id is not None:
        payload["taxcode"] = tax_id
    _put(payload, "nominalcode", item.nominal_code)
    _put(payload, "purchasenominalcode", item.purchase_nominal_code)
    return payload


# --- Invoice (InvoiceHeader + InvoiceDetail) --------------------------------------------------------------


def line_payload(
    line: InvoiceLine,
    *,
    is_credit: bool,
    item_code: str,
    item_id: int | None,
    tax_code: str,
    tax_id: int | None,
) -> dict[str, Any]:
    """A credit note's line has a negative quantity, net and tax, so Halo's totals come out negative."""
    quantity, net, tax = line.quantity, line.net, line.tax
    if is_credit:  # an invoice's own amounts as they are: multiplying by 1 cost a third of a microsecond each
        quantity, net, tax = quantity * -1, net * -1, tax * -1
    payload: dict[str, Any] = {
        "item_shortdescription": line.description or item_code or f"Line {line.number}",
        "qty_order": number(quantity),
        "unit_price": number(line.unit_price),
        "net_amount": number(net),
        "tax_amount": number(tax),
    }
    _put(payload, "item_code", item_code)
    if item_id is not None:
        payload["_itemid"] = item_id
    _put(payload, "tax_code", tax_code)
    if line.tax_rate is not None:
        payload["tax_rate"] = number(line.tax_rate)
    _put(payload, "nominal_code", line.nominal_code)
    if tax_id is not None:
        payload["item_tax_code"] = tax_id
    return payload


def invoice_payload(invoice: Invoice, *, client_id: int, lines: list[dict[str, Any]]) -> dict[str, Any]:
    sign = -1 if invoice.is_credit else 1
    payload: dict[str, Any] = {
        "client_id": client_id,
        "invoice_date": timestamp(invoice.date),
        "thirdpartyinvoicenumber": invoice.number,
        "accountsid": invoice.key,
        "posted": invoice.posted,
        "total": number(invoice.gross * sign),
        "amountpaid": number(invoice.amount_paid),
        "lines": lines,
    }
    if invoice.due_date is not None:
        payload["duedate"] = timestamp(invoice.due_date)
    _put(payload, "reference", invoice.reference)
    # InvoiceHeader.currency (text) in Halo's OpenAPI: only a foreign-currency document carries one, so a
    # base-currency invoice's payload (and its content hash) is what it always was.
    _put(payload, "currency", invoice.currency)
    if invoice.paid_date is not None:
        payload["datepaid"] = timestamp(invoice.paid_date)
    return payload


# --- InvoicePayment (InvoicePayment_List) -----------------------------------------------------------------


def payment_payload(payment: Payment, *, invoice_id: int, client_id: int, source_kind: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "invoice_id": invoice_id,
        "client_id": client_id,
        "date": timestamp(payment.date),
        "amount": number(payment.amount),
        "thirdpartyid": payment.key,
    }
    if source_kind in SAGE50_KINDS:
        payload["sage50_reference"] = payment.reference or payment.key
    return payload


# --- Invoice posted into the books (Halo -> books) ---------------------------------------------------------


def posted_payload(halo_id: int, *, books_number: str, when: datetime) -> dict[str, Any]:
    """What tells Halo an invoice is in the books: ``posted``, ``dateposted`` and the books' number in
    ``thirdpartyinvoicenumber`` (shared/reference/halo-api.md: "After a successful export, POST {id,
    posted:true, dateposted, thirdpartyinvoicenumber}"). Saying it twice changes nothing."""
    payload: dict[str, Any] = {"id": int(halo_id), "posted": True, "dateposted": timestamp(when)}
    _put(payload, "thirdpartyinvoicenumber", books_number)
    return payload
