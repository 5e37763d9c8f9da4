"""Halo's documents in the books' terms: Halo's client / item / tax ids -> the books' keys, and a Halo
invoice (with its lines) -> a core.books.BooksDocument.

Why apart from the posting run (sync/posting.py): the run decides what is written and keeps it exactly
once; this decides what a document looks like in the books, from what the books -> Halo sync linked and the
user mapped, and says in a person's words why a document cannot be posted as it is (NotPostable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from core.books import BooksDocument, BooksLine, BooksWriter
from core.records import Customer, Item, money, to_decimal
from sync.settings import Settings
from sync.state import TO_HALO, StateStore

SETTINGS_PLACE = "Settings > Sync > Halo to the books"


class HaloReads(Protocol):
    """The one Halo read the mapping makes itself (a client, an item or a tax by id)."""

    def get_record(
        self, resource: str, record_id: int, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None: ...


def reference_for(halo_id: int, is_credit: bool) -> str:
    """The exactly-once marker the books keep (core.books): HALO-<id>, HALO-C<id> for a credit note."""
    return f"HALO-C{halo_id}" if is_credit else f"HALO-{halo_id}"


def halo_date(value: object) -> datetime | None:
    """An ISO date-time from Halo as an aware datetime (naive: UTC); None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def amount(value: object) -> Decimal:
    """A Halo amount (number or text) as money; absent is 0.00."""
    if value is None or isinstance(value, bool) or value == "":
        return Decimal("0.00")
    return money(value)


def halo_int(value: object) -> int | None:
    """A Halo id (number or text) when it is one (> 0), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def line_net(line: Mapping[str, Any]) -> Decimal:
    """A line's net: Halo's net_amount, else quantity x unit price."""
    if line.get("net_amount") not in (None, ""):
        return amount(line.get("net_amount"))
    return money(to_decimal(line.get("qty_order") or 0, Decimal("0.00001")) * amount(line.get("unit_price")))


def is_credit(invoice: Mapping[str, Any]) -> bool:
    """A credit note: Halo's InvoiceHeader has no credit flag; credit notes carry a negative total (the
    lines' sum when the header has none)."""
    total = invoice.get("total")
    if total not in (None, "") and not isinstance(total, bool):
        return amount(total) < 0
    lines = invoice.get("lines") or []
    gross = sum((line_net(line) + amount(line.get("tax_amount")) for line in lines), Decimal("0"))
    return gross < 0


# --- Halo's ids -> the books' keys ----------------------------------------------------------------------


class NotPostable(Exception):
    """A document that cannot be posted as it is: the message and what to do."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message)
        self.message = message
        self.action = action


def _inverted(pairs: Iterable[tuple[str, int]]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for key, halo_id in pairs:
        if key not in result.setdefault(int(halo_id), []):
            result[int(halo_id)].append(key)
    return result


class BooksMapping:
    """Halo client / item / tax ids -> the books' customer / item / tax keys, from what the books -> Halo
    sync linked and the user mapped; a customer or item the books lack is created (by setting) or reported.

    ``dry_run``: nothing is created; what would be is said in the row's message.
    """

    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        halo: HaloReads,
        writer: BooksWriter,
        *,
        dry_run: bool,
    ) -> None:
        self.posting = settings.posting
        self.state = state
        self.halo = halo
        self.writer = writer
        self.dry_run = dry_run
        links = state.links("customers")
        self._customers = _inverted(
            [(key, link.halo_id) for key, link in links.items()] + list(state.mappings("customer").items())
        )
        self._items = _inverted([(key, link.halo_id) for key, link in state.links("items").items()])
        tax_links = [(key, link.halo_id) for key, link in state.links("tax_rates").items()]
        tax_mapped = state.mappings("tax")
        # The user's mapping wins over a link for the same books code.
        self._taxes = _inverted([*tax_mapped.items(), *((k, h) for k, h in tax_links if k not in tax_mapped)])
        self._records: dict[tuple[str, int], dict[str, Any] | None] = {}
        self._created: dict[tuple[str, int], str] = {}  # Halo id -> the books key created this run
        self.notes: list[str] = []  # what a document's mapping did or would do (created a customer...)

    def halo_record(self, resource: str, halo_id: int) -> dict[str, Any] | None:
        """One Halo client or item, read once per run."""
        key = (resource, halo_id)
        if key not in self._records:
            self._records[key] = self.halo.get_record(resource, halo_id, {"includedetails": "true"})
        return self._records[key]

    def client_name(self, client_id: int | None, row: Mapping[str, Any]) -> str:
        name = row.get("client_name")
        if isinstance(name, str) and name.strip():
            return name.strip()
        if client_id is None:
            return ""
        record = self.halo_record("Client", client_id)
        return str((record or {}).get("name") or f"client {client_id}")

    def toplevel_of(self, client_id: int | None) -> int | None:
        if client_id is None:
            return None
        record = self.halo_record("Client", client_id)
        return halo_int((record or {}).get("toplevel_id"))

    def customer_key(self, client_id: int | None, name: str) -> str:
        if client_id is None:
            raise NotPostable("It has no Halo client.", "Give the invoice a client in Halo.")
        keys = self._customers.get(client_id, [])
        if len(keys) == 1:
            return keys[0]
        if len(keys) > 1:
            raise NotPostable(
                f"Halo client {name} stands for several customers in the books ({', '.join(sorted(keys))}).",
                "Keep one of them mapped to this Halo client in Mappings > Customers, then sync again.",
            )
        if ("Client", client_id) in self._created:
            return self._created[("Client", client_id)]
        record = self.halo_record("Client", client_id) or {}
        accounts_id = str(record.get("accountsid") or "").strip()
        if accounts_id and self.writer.has_customer(accounts_id):
            return accounts_id
        if self.posting.missing_customers == "create":
            return self._create_customer(client_id, record, name)
        where = f" (its accounts ID {accounts_id} is not a customer there)" if accounts_id else ""
        raise NotPostable(
            f"Customer {name} is not in the books{where}.",
            "Add the customer to the books and sync customers (or map it in Mappings > Customers), or let "
            f'LedgerBridge create it: posting.missing_customers = "create" in {SETTINGS_PLACE}.',
        )

    def _create_customer(self, client_id: int, record: Mapping[str, Any], name: str) -> str:
        if self.dry_run:
            self.notes.append(f"creates customer {name} in the books")
            return ""
        customer = Customer(
            key="",
            name=name,
            email=str(record.get("accountsemailaddress") or ""),
            tax_number=str(record.get("tax_number") or ""),
            website=str(record.get("website") or ""),
        )
        key = self.writer.create_customer(customer)
        # Linked as if the books -> Halo sync had matched it: that sync then keeps this Halo client in
        # step with the new books customer instead of creating a second client.
        self.state.save_link("customers", key, client_id, "", TO_HALO, name=name)
        self._customers[client_id] = [key]
        self._created[("Client", client_id)] = key
        self.notes.append(f"created customer {name} in the books ({key})")
        return key

    def item_key(self, line: Mapping[str, Any]) -> str:
        item_id = halo_int(line.get("_itemid"))
        if item_id is None:
            return ""  # a description-only line
        keys = self._items.get(item_id, [])
        if len(keys) == 1:
            return keys[0]
        label = str(line.get("item_code") or line.get("item_shortdescription") or f"item {item_id}")
        if len(keys) > 1:
            raise NotPostable(
                f"Halo item {label} stands for several items in the books ({', '.join(sorted(keys))}).",
                "Give the Halo item the accounts ID of the one it is, then sync items again.",
            )
        if ("Item", item_id) in self._created:
            return self._created[("Item", item_id)]
        record = self.halo_record("Item", item_id) or {}
        accounts_id = str(record.get("accountsid") or "").strip()
        if accounts_id and self.writer.has_item(accounts_id):
            return accounts_id
        if self.posting.missing_items == "create":
            return self._create_item(item_id, record, label)
        raise NotPostable(
            f"Item {label} (Halo item {item_id}) is not in the books.",
            "Add the item to the books and sync items, or let LedgerBridge create it: "
            f'posting.missing_items = "create" in {SETTINGS_PLACE}.',
        )

    def _create_item(self, item_id: int, record: Mapping[str, Any], label: str) -> str:
        if self.dry_run:
            self.notes.append(f"creates item {label} in the books")
            return ""
        item = Item(
            key="",
            code=str(record.get("internalreference") or record.get("name") or label),
            name=str(record.get("name") or label),
            description=str(record.get("description") or ""),
            price=amount(record.get("baseprice")),
            nominal_code=str(record.get("nominalcode") or ""),
        )
        key = self.writer.create_item(item)
        self.state.save_link("items", key, item_id, "", TO_HALO, name=item.name)
        self._items[item_id] = [key]
        self._created[("Item", item_id)] = key
        self.notes.append(f"created item {item.name} in the books ({key})")
        return key

    def tax_code(self, line: Mapping[str, Any]) -> str:
        tax_id = halo_int(line.get("item_tax_code"))
        if tax_id is None:
            return ""  # the books' default for the item / customer
        keys = self._taxes.get(tax_id, [])
        if len(keys) == 1:
            return keys[0]
        label = str(line.get("item_tax_name") or line.get("tax_code") or "")
        if not label:
            tax = self.halo_record("Tax", tax_id) or {}
            name, code = str(tax.get("name") or "").strip(), str(tax.get("code") or "").strip()
            label = f"{code} ({name})" if code and name else code or name or f"tax {tax_id}"
        if len(keys) > 1:
            raise NotPostable(
                f"Halo tax {label} (id {tax_id}) stands for several tax codes in the books "
                f"({', '.join(sorted(keys))}).",
                "Keep only one books tax code on this Halo tax in Mappings > Tax codes.",
            )
        raise NotPostable(
            f"Halo tax {label} (id {tax_id}) is not mapped to a tax code in the books.",
            "Set it in Mappings > Tax codes (or sync tax rates), then post again.",
        )


# --- Halo documents -> books documents ----------------------------------------------------------------


def to_document(
    row: Mapping[str, Any], mapping: BooksMapping, *, number_from: str, credit: bool
) -> BooksDocument:
    """A Halo invoice (with lines) in the books' terms; NotPostable says why it cannot be."""
    halo_id = int(row["id"])
    client_id = halo_int(row.get("client_id"))
    name = mapping.client_name(client_id, row)
    rate = row.get("currency_conversion_rate")
    if (
        rate not in (None, "", 0)
        and not isinstance(rate, bool)
        and to_decimal(rate, Decimal("0.000001")) != 1
    ):
        # Halo's amounts would be posted as if in the books' own currency: never a silent conversion.
        raise NotPostable(
            f"It is in another currency ({row.get('currency') or 'conversion rate ' + str(rate)}); posting "
            "documents in a currency other than the books' own is not supported.",
            "Post it by hand in the books (LedgerBridge leaves it alone: mark it posted in Halo when done).",
        )
    customer_key = mapping.customer_key(client_id, name)
    sign = Decimal(-1) if credit else Decimal(1)
    lines: list[BooksLine] = []
    for line in row.get("lines") or []:
        net = line_net(line) * sign
        tax = amount(line.get("tax_amount")) * sign
        quantity = to_decimal(line.get("qty_order") or 0, Decimal("0.00001")) * sign
        unit_price = to_decimal(line.get("unit_price") or 0, Decimal("0.00001"))
        if quantity == 0 and net != 0:
            quantity, unit_price = Decimal(1), net
        lines.append(
            BooksLine(
                description=str(
                    line.get("item_shortdescription") or line.get("item_longdescription") or ""
                ).strip()
                or str(line.get("item_code") or "").strip(),
                quantity=quantity.quantize(Decimal(1))
                if quantity == quantity.to_integral_value()
                else quantity,
                unit_price=unit_price,
                net=net,
                tax=tax,
                item_key=mapping.item_key(line),
                tax_code=mapping.tax_code(line),
                # account "": the item's own. Halo's nominal_code is Halo's word, not the books' account.
            )
        )
    if not lines:
        raise NotPostable("It has no lines in Halo.", "Add its lines in Halo (or delete it there).")
    date_ = halo_date(row.get("invoice_date"))
    if date_ is None:
        raise NotPostable("It has no invoice date in Halo.", "Give it an invoice date in Halo.")
    net = sum((line.net for line in lines), Decimal("0.00"))
    tax = sum((line.tax for line in lines), Decimal("0.00"))
    number = str(row.get("invoicenumber") or "").strip() if number_from == "halo" else ""
    return BooksDocument(
        reference=reference_for(halo_id, credit),
        halo_id=halo_id,
        number=number,
        customer_key=customer_key,
        date=date_,
        lines=tuple(lines),
        net=net,
        tax=tax,
        gross=net + tax,
        is_credit=credit,
        due_date=halo_date(row.get("duedate")),
        customer_reference=str(row.get("cust_order_number") or "").strip(),
        memo=f"Halo {'credit note' if credit else 'invoice'} {row.get('invoicenumber') or halo_id}",
    )
