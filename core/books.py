"""What is written INTO the books (the Halo -> books direction): the document, its lines, and the writer seam.

Why: posting Halo's invoices into QuickBooks (QODBC inserts), Sage 50 UK (Sage Data Objects over COM) or any
other package must look the same to the sync side, so exactly-once lives in one place (sync/posting.py) and
each package only says how to find, post and create. Like core/records.py this holds books-side values
(the books' customer key, tax code, item code, nominal/income account) already mapped from Halo's ids:
a writer never sees a Halo id except as the document's marker.

Exactly-once contract (sync/posting.py relies on it):
- every document carries ``reference``, a marker unique per Halo document (``HALO-<id>``, or
  ``HALO-C<id>`` for a credit note), and the writer stores it in a field the books keep and can be searched
  by (QuickBooks ``Other``/``Memo``, Sage's invoice ``NOTES_1``/order number);
- ``find_posted`` looks those markers up in the books, so a run restarted after a crash never posts twice;
- ``post`` returns only once the books have confirmed the write (QODBC's last line with FQSaveToCache 0
  returned, SDO's ``Update()`` returned True); anything else raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from core.records import Customer, Item

# What a package can take. A writer says which it supports; the app shows the rest as "not supported".
BooksKind = Literal["invoices", "credit_notes", "customers", "items"]


@dataclass(frozen=True, slots=True)
class BooksLine:
    """One line as the books hold it: codes are the books' own (mapped from Halo's ids by the user)."""

    description: str
    quantity: Decimal
    unit_price: Decimal  # net, per unit
    net: Decimal  # quantity x unit price, rounded to the cent
    tax: Decimal
    item_key: str = ""  # the books' item code / ListID; "" for a description-only line
    tax_code: str = ""  # the books' tax code (Sage "T1", QuickBooks sales tax code)
    account: str = ""  # the books' income / nominal account; "" = the item's own


@dataclass(frozen=True, slots=True)
class BooksDocument:
    """A Halo invoice or credit note, ready to post: totals are Halo's, lines already in the books' terms."""

    reference: str  # the exactly-once marker (see the module docstring)
    halo_id: int
    number: str  # the number to give it in the books; "" = the books' next number
    customer_key: str  # the books' customer key (QuickBooks ListID or FullName, Sage ACCOUNT_REF)
    date: datetime
    lines: tuple[BooksLine, ...]
    net: Decimal
    tax: Decimal
    gross: Decimal
    is_credit: bool = False
    due_date: datetime | None = None
    customer_reference: str = ""  # the customer's order number (Halo cust_order_number)
    memo: str = ""
    currency: str = ""  # ISO code when not the books' base currency ("" = base)


@dataclass(frozen=True, slots=True)
class PostedDocument:
    """What the books answered for a document they hold: how to find it again, and its number there."""

    reference: str  # the marker it carries
    books_key: str  # QuickBooks TxnID, Sage invoice number as key
    books_number: str  # the number the books show (goes to Halo's thirdpartyinvoicenumber)


class BooksWriter(Protocol):
    """A package's way in. Errors follow core.errors: RecordError for one document the books refused
    (carry on), TransientError for a locked company file or a dropped link (stop, retry later; a write whose
    fate is unknown sets ``maybe_written`` and is looked up with ``find_posted`` before any retry),
    ConfigError / AuthError for what a person must fix."""

    def supports(self) -> frozenset[BooksKind]:
        """What this package can take through this route."""
        ...

    def find_posted(self, references: Sequence[str]) -> dict[str, PostedDocument]:
        """The documents among ``references`` that the books already hold, by reference."""
        ...

    def post(self, document: BooksDocument) -> PostedDocument:
        """Write one document and return once the books confirmed it."""
        ...

    def has_customer(self, customer_key: str) -> bool: ...

    def create_customer(self, customer: Customer) -> str:
        """Create the customer in the books; returns its books key."""
        ...

    def has_item(self, item_key: str) -> bool: ...

    def create_item(self, item: Item) -> str:
        """Create the item in the books; returns its books key."""
        ...

    def close(self) -> None: ...
