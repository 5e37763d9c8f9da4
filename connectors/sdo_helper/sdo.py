"""Driving Sage Data Objects: connect, look posted documents up by their marker, post, create accounts.

Why here and not in the app: everything that touches COM runs in the helper process (see __init__). This
module takes the SDO engine from a factory (``com.dispatch`` on Windows, a fake in the tests) and only uses
the object model public sources describe (docs/writing-sage.md, "Evidence"):

- ``engine.Workspaces.Add(name)``, ``workspace.Connect(data_path, user, password, unique_name)``,
  ``workspace.Disconnect()``, ``workspace.CreateObject("InvoicePost" | "InvoiceRecord" | "SalesRecord" |
  "StockRecord")``;
- a posting object's ``Header.Item(name).Value``, ``Items.Add()`` giving a line whose
  ``Fields.Item(name).Value`` is set, ``GetNextNumber()``, and ``Update()`` answering True or False;
- a record object's ``Fields.Item(name).Value``, ``MoveFirst()`` / ``MoveNext()`` / ``IsEOF()`` to walk it,
  ``Find(False)`` after setting the key field, ``AddNew()`` and ``Update()`` to create one;
- ``LastError`` (on the workspace or the engine) carrying Sage's reason when ``Update()`` said False.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from .protocol import WRITES, HelperError

EngineFactory = Callable[[str], Any]  # ProgID -> the SDOEngine COM object
# How a factory says "no such ProgID here" (HelperError.detail starts with it): the automatic search goes on
# to the next version; any other failure (pywin32 missing, wrong bitness) stops it with its own message.
NOT_REGISTERED = "not registered:"

# ProgIDs tried when none is configured, newest first: SDO registers "SDOEngine.<major version>" (v32 is
# "SDOEngine.32"). The engine must match the version of the company data; a wrong one fails on Connect.
AUTO_PROGIDS = tuple(f"SDOEngine.{major}" for major in range(40, 10, -1))

# Field lengths from the published INVOICE / SALES_LEDGER / STOCK layouts (docs/writing-sage.md, "Fields").
NOTES_LENGTH = 60
CUST_ORDER_LENGTH = 60
DESCRIPTION_LENGTH = 60
ACCOUNT_REF_LENGTH = 8
STOCK_CODE_LENGTH = 30
NAME_LENGTH = 60
ADDRESS_LENGTH = 60

# INVOICE_TYPE_CODE: 0 product invoice, 3 product credit (the published example row and an importer's list).
PRODUCT_INVOICE = 0
PRODUCT_CREDIT = 3
# Sage's special product code for a line that is not a product record ("S1": miscellaneous item).
NON_PRODUCT_CODE = "S1"

_ACCOUNT_REF = re.compile(r"[A-Z0-9\-_&]{1,8}")
_STOCK_CODE = re.compile(r"[A-Z0-9/.\-#]{1,30}")
_TAX_CODE = re.compile(r"T(\d{1,2})")


# --- reading Sage's answers -------------------------------------------------------------------------------


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def last_error_text(engine: Any, workspace: Any) -> str:
    """Sage's reason for the last refusal; public code reads it from ``LastError`` (number and text)."""
    for owner in (workspace, engine):
        error = _attribute(owner, "LastError")
        if error is None:
            continue
        for name in ("ErrorDescription", "Text", "Description"):
            text = _text(_attribute(error, name))
            if text:
                number = _text(_attribute(error, "ErrorNumber") or _attribute(error, "Code"))
                return f"{text} (SDO error {number})" if number and number != "0" else text
    return ""


def _attribute(owner: Any, name: str) -> Any:
    try:
        return getattr(owner, name)
    except Exception:  # a COM object raises its own error types for a member it lacks
        return None


_WORDS_AUTH = ("password", "logon", "log on", "login", "invalid user", "user name", "username is invalid")
_WORDS_BUSY = ("in use", "busy", "exclusive", "locked", "lock ", "backup", "try again")
_WORDS_INTEGRATION = ("third party", "third-party", "integration", "not enabled", "licen")
_WORDS_PATH = ("path", "folder", "directory", "not found", "does not exist", "version")


def unexpected_error(exc: BaseException, op: str) -> HelperError:
    """An exception nothing above expected: a company locked mid-request is transient (a read wrote nothing;
    a write's fate is unknown), anything else a bug to report."""
    text = _exception_text(exc)
    if any(word in text.lower() for word in _WORDS_BUSY):
        return HelperError(
            "transient",
            f"Sage 50 was busy: {text}",
            action="LedgerBridge tries again on the next run.",
            detail=text,
            maybe_written=op in WRITES,
        )
    return HelperError(
        "bug", f"The Sage helper failed during {op}: {type(exc).__name__}: {text}", detail=text
    )


def connect_error(text: str) -> HelperError:
    """Sorts a Connect failure by Sage's words. Sage documents no error codes for these publicly, so the
    words are matched (the ones public code quotes: "Username is already in use", "busy")."""
    lowered = text.lower()
    if any(word in lowered for word in _WORDS_BUSY):
        return HelperError(
            "transient",
            f"Sage 50 refused the connection for now: {text}",
            action="Close Sage on the machine that holds this user, or use a user only LedgerBridge uses; "
            "LedgerBridge tries again on the next run.",
            detail=text,
        )
    if any(word in lowered for word in _WORDS_INTEGRATION):
        return HelperError(
            "config",
            f"Sage 50 does not allow third-party programs into this company: {text}",
            action="In Sage 50, enable third party integration for the company (see docs/writing-sage.md), "
            "then run again.",
            detail=text,
        )
    if any(word in lowered for word in _WORDS_AUTH):
        return HelperError(
            "auth",
            f"Sage 50 did not accept the user name or password: {text}",
            action="Re-enter the Sage user and password in Settings > Accounting package.",
            detail=text,
        )
    if any(word in lowered for word in _WORDS_PATH):
        return HelperError(
            "config",
            f"Sage 50 could not open the company data: {text}",
            action="Check the Sage data path (the company's ACCDATA folder) and the SDO version in Settings.",
            detail=text,
        )
    return HelperError(
        "config",
        f"Sage 50 refused the connection: {text or 'no reason given'}",
        action="Check the data path, the Sage user and the SDO version in Settings > Accounting package.",
        detail=text,
    )


# --- account references ----------------------------------------------------------------------------------


def account_ref_candidates(name: str) -> Iterator[str]:
    """The ACCOUNT_REFs a customer without one may get, in order: the same name always gives the same list.

    Sage's refs are at most 8 characters, upper case, letters, digits and -_& [accounting-packages.md 1.2 /
    "Account refs"]. The first six letters or digits of the name (padded with X), then 01..99: ``Acme
    Widgets Ltd`` -> ``ACMEWI01``, ``ACMEWI02``... A ref already taken by another customer is skipped; one
    holding a customer of the same name is that customer (a run that crashed after creating it).
    """
    stem = re.sub(r"[^A-Z0-9]", "", name.upper())[:6].ljust(6, "X")
    for number in range(1, 100):
        yield f"{stem}{number:02d}"


def valid_account_ref(ref: str) -> bool:
    return bool(_ACCOUNT_REF.fullmatch(ref))


def stock_code_for(code: str, name: str) -> str:
    """An item's STOCK_CODE: its own code when valid, else one made from it or its name (30 characters,
    A-Z 0-9 / . - #, no spaces: Sage's product code rules)."""
    candidate = (code or name).upper().strip()
    if _STOCK_CODE.fullmatch(candidate):
        return candidate
    return re.sub(r"[^A-Z0-9/.\-#]+", "-", candidate).strip("-")[:STOCK_CODE_LENGTH]


def tax_code_number(code: str) -> int:
    """SDO takes a line's TAX_CODE as its number (T1 -> 1), as public SDO code sets it."""
    match = _TAX_CODE.fullmatch(code.strip().upper())
    if not match:
        raise HelperError(
            "record",
            f"{code!r} is not a Sage 50 tax code (T0 to T99).",
            action="Map the Halo tax to a Sage tax code in Mappings.",
            field="tax_code",
        )
    return int(match.group(1))


def same_name(left: str, right: str) -> bool:
    return " ".join(left.upper().split()) == " ".join(right.upper().split())


def marker_of(notes: str) -> str:
    """The marker a NOTES_1 holds: its first word (a person may add words after it in Sage)."""
    words = notes.split()
    return words[0].upper() if words else ""


# --- the session -----------------------------------------------------------------------------------------


class SdoSession:
    """One connection to one company, for the life of the helper."""

    def __init__(self, factory: EngineFactory) -> None:
        self._factory = factory
        self._engine: Any = None
        self._workspace: Any = None
        self.progid = ""

    # connection

    def open(self, data_path: str, username: str, password: str, progid: str, unique_name: str) -> str:
        """Connect to the company; returns the ProgID that worked."""
        engine, used = self._engine_for(progid)
        workspace = engine.Workspaces.Add(unique_name)
        try:
            connected = workspace.Connect(data_path, username, password, unique_name)
        except HelperError:
            raise
        except Exception as exc:  # SDO raises a COM error carrying Sage's text
            raise connect_error(_exception_text(exc)) from None
        if connected is not None and not connected:  # False or 0; a version answering nothing connected
            raise connect_error(last_error_text(engine, workspace))
        self._engine, self._workspace, self.progid = engine, workspace, used
        return used

    def _engine_for(self, progid: str) -> tuple[Any, str]:
        tried: list[str] = []
        for candidate in (progid,) if progid else AUTO_PROGIDS:
            try:
                return self._factory(candidate), candidate
            except HelperError as error:
                if progid or error.kind != "config" or not error.detail.startswith(NOT_REGISTERED):
                    raise
                tried.append(candidate)
        raise HelperError(
            "config",
            "Sage Data Objects is not installed on this PC (no SDOEngine.<version> is registered).",
            action="Install Sage 50 Accounts (or its SDO) on this PC, or set the SDO version in Settings > "
            "Accounting package.",
            detail=f"tried {tried[0]} .. {tried[-1]}" if tried else "",
        )

    def close(self) -> None:
        if self._workspace is not None:
            try:
                self._workspace.Disconnect()
            finally:
                self._workspace = None
                self._engine = None

    def _ws(self) -> Any:
        if self._workspace is None:
            raise HelperError("bug", "The helper was asked to work before it was connected.")
        return self._workspace

    def _refused(self, what: str, *, action: str, field: str = "") -> HelperError:
        reason = last_error_text(self._engine, self._workspace) or "Sage gave no reason"
        return HelperError(
            "record", f"Sage 50 refused {what}: {reason}", action=action, detail=reason, field=field
        )

    # invoices and credit notes

    def find_posted(self, references: list[str]) -> dict[str, dict[str, str]]:
        """Walks the invoice records once and keeps those whose NOTES_1 starts with one of the markers."""
        wanted = {reference.upper(): reference for reference in references}
        found: dict[str, dict[str, str]] = {}
        if not wanted:
            return found
        for record in _walk(self._ws().CreateObject("InvoiceRecord")):
            marker = marker_of(_text(_field(record, "NOTES_1")))
            if marker in wanted and wanted[marker] not in found:
                number = _number_text(_field(record, "INVOICE_NUMBER"))
                found[wanted[marker]] = {
                    "reference": wanted[marker],
                    "books_key": number,
                    "books_number": number,
                }
                if len(found) == len(wanted):
                    break  # all found: no need to walk the rest of a long ledger
        return found

    def _invoice_holding_number(self, number: int) -> str | None:
        """The NOTES_1 of the invoice that already has this number, or None when the number is free."""
        record = self._ws().CreateObject("InvoiceRecord")
        _set(record.Fields, "INVOICE_NUMBER", number)
        if record.Find(False):
            return _text(_field(record, "NOTES_1"))
        return None

    def post(self, document: dict[str, Any]) -> dict[str, str]:
        """One invoice or credit note through InvoicePost; returns once Update() said True."""
        reference = str(document["reference"])
        if len(reference) > NOTES_LENGTH or " " in reference:
            raise HelperError("bug", f"The marker {reference!r} does not fit NOTES_1 as one word.")
        if document.get("currency"):
            raise HelperError(
                "record",
                f"Halo document {reference} is in {document['currency']}; posting foreign-currency documents "
                "into Sage 50 is not supported yet.",
                action="Enter it in Sage by hand, then mark it posted in Halo.",
                field="currency",
            )
        if not document["lines"]:
            raise HelperError(
                "record", f"Halo document {reference} has no lines.", action="Add lines in Halo."
            )
        credit = bool(document.get("is_credit"))
        sign = Decimal(-1) if Decimal(document["gross"]) < 0 else Decimal(1)  # Sage holds credits as positive
        lines = [_line_values(line, sign, reference) for line in document["lines"]]
        number = str(document.get("number") or "")
        if number and not number.isdigit():
            raise HelperError(
                "record",
                f"Halo's number {number!r} for {reference} is not a whole number; "
                "Sage 50's invoice numbers are.",
                action='Set [posting] number_from = "books" so Sage gives the number.',
                field="number",
            )
        if number:
            holder = self._invoice_holding_number(int(number))
            if holder is not None:
                raise HelperError(
                    "record",
                    f"Sage 50 already has invoice number {number} (notes: {holder or 'none'}), so "
                    f"{reference} cannot take it.",
                    action='Renumber in Halo, or set [posting] number_from = "books".',
                    field="number",
                )
        post = self._ws().CreateObject("InvoicePost")
        header = post.Header
        _set(header, "INVOICE_TYPE_CODE", PRODUCT_CREDIT if credit else PRODUCT_INVOICE)
        _set(header, "ACCOUNT_REF", _account_ref(str(document["customer_key"])))
        _set(header, "INVOICE_DATE", _date(document["date"]))
        if document.get("due_date"):
            _set_if_present(header, "PAYMENT_DUE_DATE", _date(document["due_date"]))
        _set(header, "NOTES_1", reference)
        if document.get("memo"):
            _set_if_present(header, "NOTES_2", str(document["memo"])[:NOTES_LENGTH])
        if document.get("customer_reference"):
            _set_if_present(
                header, "CUST_ORDER_NUMBER", str(document["customer_reference"])[:CUST_ORDER_LENGTH]
            )
        _set(header, "INVOICE_NUMBER", int(number) if number else int(post.GetNextNumber()))
        for values in lines:
            item = post.Items.Add()
            for name, value in values.items():
                _set(item.Fields, name, value)
        try:
            updated = post.Update()
        except Exception as exc:  # the write may or may not have reached the company
            raise HelperError(
                "transient",
                f"Sage 50 failed while saving {reference}: {_exception_text(exc)}",
                action="LedgerBridge looks the document up in Sage before it tries again.",
                detail=_exception_text(exc),
                maybe_written=True,
            ) from None
        if updated is None:  # public code gets a bool; no answer = unknown outcome: look before retrying
            raise HelperError(
                "transient",
                f"Sage 50 gave no answer to saving {reference}.",
                action="LedgerBridge looks the document up in Sage before it tries again.",
                maybe_written=True,
            )
        if not updated:
            raise self._refused(
                f"{'credit note' if credit else 'invoice'} {reference}",
                action="Fix what Sage names (customer, nominal or tax code, period) and run again.",
            )
        posted = _number_text(_field_of(header, "INVOICE_NUMBER"))
        return {"reference": reference, "books_key": posted, "books_number": posted}

    # customers

    def has_customer(self, key: str) -> bool:
        return self._find_customer(key) is not None

    def _find_customer(self, key: str) -> Any:
        if not valid_account_ref(key.upper()):
            return None
        record = self._ws().CreateObject("SalesRecord")
        _set(record.Fields, "ACCOUNT_REF", key.upper())
        return record if record.Find(False) else None

    def create_customer(self, customer: dict[str, Any]) -> str:
        """SalesRecord.AddNew/Update; a customer without a ref gets the first free derived one."""
        name = str(customer["name"]).strip()
        if not name:
            raise HelperError(
                "record", "A customer without a name cannot be created in Sage 50.", field="name"
            )
        key = str(customer.get("key") or "").upper()
        if key:
            if not valid_account_ref(key):
                raise HelperError(
                    "record",
                    f"{key!r} is not a Sage 50 account reference (up to 8 letters, digits, - _ &).",
                    action="Give the customer a valid Sage account reference in Mappings.",
                    field="key",
                )
            candidates: Iterator[str] = iter((key,))
        else:
            candidates = account_ref_candidates(name)
        for ref in candidates:
            existing = self._find_customer(ref)
            if existing is None:
                return self._add_customer(ref, name, customer)
            if same_name(_text(_field(existing, "NAME")), name):
                return ref  # created before (perhaps by a run that stopped before it could say so)
            if key:
                raise HelperError(
                    "record",
                    f"Sage 50 account {ref} already belongs to {_text(_field(existing, 'NAME'))!r}.",
                    action="Map this Halo customer to that account, or give it another reference.",
                    field="key",
                )
        raise HelperError(
            "record",
            f"No free Sage 50 account reference is left for {name!r} (tried its 99 derived ones).",
            action="Create the customer in Sage and map it in LedgerBridge.",
        )

    def _add_customer(self, ref: str, name: str, customer: dict[str, Any]) -> str:
        record = self._ws().CreateObject("SalesRecord")
        record.AddNew()
        address = customer.get("address") or {}
        lines = [*address.get("lines", [])]
        lines += [address.get("city", ""), address.get("region", ""), address.get("postcode", "")]
        lines = [str(line).strip() for line in lines if str(line).strip()]
        values: dict[str, Any] = {"ACCOUNT_REF": ref, "NAME": name[:NAME_LENGTH]}
        for index, line in enumerate(lines[:5], start=1):
            values[f"ADDRESS_{index}"] = line[:ADDRESS_LENGTH]
        optional = {
            "CONTACT_NAME": (customer.get("contact_name"), 30),
            "TELEPHONE": (customer.get("phone"), 30),
            "E_MAIL": (customer.get("email"), 255),
            "VAT_REG_NUMBER": (customer.get("tax_number"), 20),
            "WEB_ADDRESS": (customer.get("website"), 255),
        }
        for field, (value, length) in optional.items():
            if value:
                values[field] = str(value)[:length]
        for field, value in values.items():
            _set(record.Fields, field, value)
        if not record.Update():
            raise self._refused(f"customer {name!r} ({ref})", action="Create the customer in Sage by hand.")
        return ref

    # items

    def has_item(self, key: str) -> bool:
        return self._find_item(key) is not None

    def _find_item(self, code: str) -> Any:
        if not _STOCK_CODE.fullmatch(code.upper()):
            return None
        record = self._ws().CreateObject("StockRecord")
        _set(record.Fields, "STOCK_CODE", code.upper())
        return record if record.Find(False) else None

    def create_item(self, item: dict[str, Any]) -> str:
        """StockRecord.AddNew/Update; an item already there with that code is that item."""
        code = stock_code_for(str(item.get("code") or item.get("key") or ""), str(item.get("name") or ""))
        if not code:
            raise HelperError("record", "An item without a code or name cannot be created in Sage 50.")
        if self._find_item(code) is not None:
            return code
        record = self._ws().CreateObject("StockRecord")
        record.AddNew()
        _set(record.Fields, "STOCK_CODE", code)
        _set(record.Fields, "DESCRIPTION", str(item.get("name") or item.get("description") or code)[:60])
        _set(record.Fields, "SALES_PRICE", float(Decimal(str(item.get("price") or "0"))))
        if item.get("nominal_code"):
            _set(record.Fields, "NOMINAL_CODE", str(item["nominal_code"]))
        if item.get("tax_code"):
            _set(record.Fields, "TAX_CODE", tax_code_number(str(item["tax_code"])))
        if not record.Update():
            raise self._refused(f"item {code}", action="Create the item in Sage by hand.")
        return code


# --- small COM helpers -----------------------------------------------------------------------------------


def _set(fields: Any, name: str, value: Any) -> None:
    fields.Item(name).Value = value


def _set_if_present(fields: Any, name: str, value: Any) -> None:
    """For the fields public code does not show on a posting object (PAYMENT_DUE_DATE, NOTES_2,
    CUST_ORDER_NUMBER on InvoicePost): an SDO version without one still posts the document, and says so on
    stderr (the app's log). A value the field refuses is still an error."""
    try:
        field = fields.Item(name)
    except Exception:
        print(f"SDO has no field {name} here; left out", file=sys.stderr)
        return
    field.Value = value


def _field_of(fields: Any, name: str) -> Any:
    return fields.Item(name).Value


def _field(record: Any, name: str) -> Any:
    return record.Fields.Item(name).Value


def _walk(record: Any) -> Iterator[Any]:
    """Every record of a record object, first to last (MoveFirst, then MoveNext until IsEOF)."""
    record.MoveFirst()
    while not record.IsEOF():
        yield record
        record.MoveNext()


def _number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


def _exception_text(exc: BaseException) -> str:
    """A COM error's own description when pywin32 gives one (its excepinfo), else the exception's text."""
    excepinfo = getattr(exc, "excepinfo", None)
    if isinstance(excepinfo, tuple) and len(excepinfo) > 2 and excepinfo[2]:
        return str(excepinfo[2]).strip()
    return str(exc).strip() or type(exc).__name__


def _account_ref(key: str) -> str:
    ref = key.strip().upper()
    if not valid_account_ref(ref):
        raise HelperError(
            "record",
            f"{key!r} is not a Sage 50 account reference (up to 8 letters, digits, - _ &).",
            action="Map the Halo customer to a Sage account in Mappings.",
            field="customer_key",
        )
    return ref


def _date(text: str) -> datetime:
    """A naive local datetime at midnight: COM dates carry no zone and Sage keeps dates, not instants."""
    value = datetime.fromisoformat(str(text))
    return datetime(value.year, value.month, value.day)


def _line_values(line: dict[str, Any], sign: Decimal, reference: str) -> dict[str, Any]:
    """One InvoicePost item's fields. Money goes in as float, which is what SDO's DOUBLE fields hold."""
    net = Decimal(line["net"]) * sign
    tax = Decimal(line["tax"]) * sign
    # Halo may sign a credit's quantity, its price or only its amounts: the amounts decide, the price stays
    # positive and the quantity carries the line's sign (a negative line is a deduction, as in Sage's UI).
    unit_price = abs(Decimal(line["unit_price"]))
    quantity = abs(Decimal(line["quantity"])) * (Decimal(-1) if net < 0 else Decimal(1))
    item_key = str(line.get("item_key") or "").upper()
    if item_key and not _STOCK_CODE.fullmatch(item_key):
        raise HelperError(
            "record",
            f"{item_key!r} on {reference} is not a Sage 50 product code.",
            action="Map the Halo item to a Sage product in Mappings.",
            field="item_key",
        )
    values: dict[str, Any] = {
        "STOCK_CODE": item_key or NON_PRODUCT_CODE,
        "DESCRIPTION": str(line["description"])[:DESCRIPTION_LENGTH],
        "QTY_ORDER": float(quantity),
        "UNIT_PRICE": float(unit_price),
        "NET_AMOUNT": float(net),
        "FULL_NET_AMOUNT": float(net),
        "TAX_AMOUNT": float(tax),
    }
    if line.get("tax_code"):
        values["TAX_CODE"] = tax_code_number(str(line["tax_code"]))
    if line.get("account"):
        values["NOMINAL_CODE"] = str(line["account"])
    return values
