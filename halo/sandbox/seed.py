"""Halo-origin invoices for the sandbox: documents people raised in Halo, for the Halo -> books posting.

Why: the books -> Halo sync only ever creates invoices that carry the books' key (``accountsid``); posting
needs the other kind, raised in Halo with an invoice number of Halo's own and no accounts ID, some
requiring approval, some credit notes (negative totals), spread over top levels and dates. Tests, the
crash bench and ``main.py sandbox --halo-invoices N`` seed them through ``HaloSandbox.seed``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol


class Seedable(Protocol):
    def seed(self, resource: str, record: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SeedLine:
    description: str
    quantity: float
    unit_price: float
    tax_rate: float = 20.0  # percent
    tax_id: int | None = None  # the Halo tax (item_tax_code)
    item_id: int | None = None  # the Halo item (_itemid)


def halo_invoice(
    client_id: int,
    number: str,
    day: date,
    lines: Sequence[SeedLine],
    *,
    credit: bool = False,
    requires_approval: bool = False,
    approval_status: int | None = None,
    posted: bool = False,
    order_number: str = "",
) -> dict[str, Any]:
    """One InvoiceHeader as Halo holds a document raised in Halo (a credit note's amounts negative)."""
    sign = -1 if credit else 1
    body: dict[str, Any] = {
        "client_id": client_id,
        "invoicenumber": number,
        "invoice_date": f"{day.isoformat()}T00:00:00Z",
        "duedate": f"{(day + timedelta(days=30)).isoformat()}T00:00:00Z",
        "posted": posted,
        "requires_approval": requires_approval,
        "lines": [],
    }
    if approval_status is not None:
        body["approval_status"] = approval_status
    if order_number:
        body["cust_order_number"] = order_number
    for line in lines:
        net = round(line.quantity * line.unit_price, 2)
        entry: dict[str, Any] = {
            "item_shortdescription": line.description,
            "qty_order": line.quantity * sign,
            "unit_price": line.unit_price,
            "net_amount": net * sign,
            "tax_amount": round(net * line.tax_rate / 100, 2) * sign,
            "tax_rate": line.tax_rate,
        }
        if line.tax_id is not None:
            entry["item_tax_code"] = line.tax_id
        if line.item_id is not None:
            entry["_itemid"] = line.item_id
        body["lines"].append(entry)
    return body


@dataclass(frozen=True)
class SeededHalo:
    tax_id: int
    client_ids: tuple[int, ...]
    invoice_ids: tuple[int, ...]


def seed_halo_invoices(
    sandbox: Seedable,
    count: int,
    *,
    clients: int = 5,
    start: date = date(2026, 1, 1),
    seed: int = 0,
    accounts_ids: Sequence[str] = (),
) -> SeededHalo:
    """A tax at 20%, ``clients`` clients (``accounts_ids[i]`` as the i-th one's accountsid when given) and
    ``count`` Halo-origin invoices dated from ``start``, one in eleven a credit note."""
    rng = random.Random(seed)
    tax = sandbox.seed("Tax", {"name": "Standard 20%", "code": "S", "value": 20})
    client_ids = []
    for index in range(clients):
        record: dict[str, Any] = {"name": f"Halo Client {index + 1}"}
        if index < len(accounts_ids):
            record["accountsid"] = accounts_ids[index]
        client_ids.append(int(sandbox.seed("Client", record)["id"]))
    invoice_ids = []
    for index in range(count):
        lines = [
            SeedLine(
                f"Service {n + 1} of HI-{index + 1}",
                rng.choice((1, 2, 3)),
                rng.choice((25, 80, 125.5)),
                tax_id=int(tax["id"]),
            )
            for n in range(rng.choice((1, 2, 3)))
        ]
        body = halo_invoice(
            client_ids[index % len(client_ids)],
            f"HI-{index + 1:05}",
            start + timedelta(days=index % 28),
            lines,
            credit=index % 11 == 10,
        )
        invoice_ids.append(int(sandbox.seed("Invoice", body)["id"]))
    return SeededHalo(int(tax["id"]), tuple(client_ids), tuple(invoice_ids))
