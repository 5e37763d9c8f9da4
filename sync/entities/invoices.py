"""Invoices and credit notes -> Halo /Invoice, each followed by its payments (/InvoicePayment).

Why these rules: an invoice needs its customer in Halo first. A customer the run has not read yet (the
invoice stream may come without the customer stream, or read before it changed) makes the invoice wait in
memory until the stream is read, then the customers are read once more (never a read nested inside
another stream's); an inactive customer is carried into Halo for its invoices (customers.py). Payments ride
with their invoice and are planned once it is confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.records import Customer, Invoice, Payment
from core.specs import TO_BOOKS, EntitySpec, MatchRules
from halo import payloads
from sync.entities.base import EntityPlanner, Pending, PlanProblem, Run, Spec
from sync.entities.customers import customers
from sync.entities.tax_rates import taxes
from sync.state import Link

CARRY_LIMIT = 5000  # invoices held back in memory while their inactive customer is looked up


class InvoicePlanner(EntityPlanner):
    """Plans invoices (lines, customer, item and tax ids) and, once each is confirmed, its payments."""

    keeps_rows = True

    def __init__(self, run: Run, spec: Spec) -> None:
        super().__init__(run, spec)
        self._deferred: list[Invoice] = []  # waiting for a customer the run has not read
        self._customers_looked_up = False
        self._missing_customers: set[str] = set()  # invoices' customer keys the books do not hold
        self._page_keys: set[str] = set()  # the invoices of the page read last (linked_keys)
        self._posted_from_halo: dict[str, Link] = {}  # their to_books links (sync/posting.py)

    def plan(self, record: Any) -> None:
        invoice: Invoice = record
        left_alone = "Deleted in the books; the Halo invoice is left as it is."
        if self.skip_inactive(
            invoice, not_created="Deleted in the books: not created.", left_alone=left_alone
        ):
            return
        if self._started_in_halo(invoice):
            return
        client_id = self._customer_for(invoice)
        if client_id is None:
            self._deferred.append(invoice)
            return
        codes = taxes(self.run)
        line_inputs: list[tuple[int | None, str, int | None]] = []
        for line in invoice.lines:
            item_id = self.run.halo_id_of("items", line.item_key) if line.item_key else None
            if line.item_key and item_id is None and ("items", line.item_key) in self.run.problems:
                raise self.run.waiting_for("items", line.item_key, "item")
            line_inputs.append((item_id, codes.code_label(line.tax_code), codes.tax_id(line.tax_code)))
        # Everything the payload below is built from; the record as a whole, so no field is left out.
        inputs = payloads.fingerprint("invoice", invoice, client_id, line_inputs)
        # Its rows' digest may be kept only if every id above is a link or a mapping (sync/known_rows.py).
        by_links = all(
            (item_id is not None or not line.item_key) and codes.by_link(line.tax_code)
            for line, (item_id, _, _) in zip(invoice.lines, line_inputs, strict=True)
        )
        if self.run.unchanged_inputs(
            self.spec,
            invoice,
            inputs,
            {"client_id": client_id},
            stream="invoices",
            modified=invoice.modified,
            keep_rows=by_links,
        ):
            return
        lines = [
            payloads.line_payload(
                line,
                is_credit=invoice.is_credit,
                item_code=line.item_key,
                item_id=item_id,
                tax_code=tax_label,
                tax_id=tax_id,
            )
            for line, (item_id, tax_label, tax_id) in zip(invoice.lines, line_inputs, strict=True)
        ]
        payload = payloads.invoice_payload(invoice, client_id=client_id, lines=lines)
        self.run.plan(
            self.spec,
            invoice,
            payload,
            stream="invoices",
            modified=invoice.modified,
            inputs=inputs,
            keep_rows=by_links,
        )

    def _started_in_halo(self, invoice: Invoice) -> bool:
        """A books invoice LedgerBridge posted from Halo (a to_books link, sync/posting.py): it is that
        Halo invoice already, so it is neither created nor updated from the books; its payments still flow."""
        if invoice.key in self._page_keys:
            origin = self._posted_from_halo.get(invoice.key)
        else:  # an invoice planned outside a page read (carried, deferred): looked up on its own
            origin = self.run.state.link("invoices", invoice.key, TO_BOOKS)
        if origin is None:
            return False
        self.run.kept("invoices", invoice.key, "invoices", invoice.modified)
        client_id = self.run.halo_id_of("customers", invoice.customer_key)
        if client_id is None:
            origin_record = self.run.reader.get_record("Invoice", origin.halo_id)
            client_id = int((origin_record or {}).get("client_id") or 0) or None
        if client_id is not None:
            pending = Pending(
                "invoices",
                invoice.key,
                invoice,
                {},
                {"client_id": client_id},
                "",
                origin.halo_id,
                "unchanged",
                "invoices",
                invoice.modified,
            )
            self.settled(pending, origin.halo_id, {})
        return True

    def linked_keys(self, records: Sequence[Any]) -> dict[str, list[str]]:
        """An invoice's own link, its customer's, its lines' items' and its payments'."""
        invoices: Sequence[Invoice] = records
        keys = [invoice.key for invoice in invoices]
        # Books invoices posted from Halo (to_books links): read for the page too, not one query each.
        self._page_keys = set(keys)
        self._posted_from_halo = self.run.state.links_for("invoices", keys, TO_BOOKS)
        return {
            "invoices": [invoice.key for invoice in invoices],
            "customers": [invoice.customer_key for invoice in invoices],
            "items": [line.item_key for invoice in invoices for line in invoice.lines if line.item_key],
            "payments": [payment.key for invoice in invoices for payment in invoice.payments],
        }

    def settled(self, pending: Pending, halo_id: int, answer: dict[str, Any]) -> None:
        if not self.run.settings.sync.sync_payments:
            return
        invoice: Invoice = pending.record
        client_id = int(pending.planned["client_id"])
        source_kind = self.run.settings.source.kind
        for payment in invoice.payments:
            inputs = payloads.fingerprint("payment", payment, halo_id, client_id, source_kind)
            if self.run.unchanged_inputs(
                PAYMENTS, payment, inputs, {}, stream="invoices", modified=invoice.modified
            ):
                continue
            payload = payloads.payment_payload(
                payment, invoice_id=halo_id, client_id=client_id, source_kind=source_kind
            )
            self.run.plan(
                PAYMENTS, payment, payload, stream="invoices", modified=invoice.modified, inputs=inputs
            )

    def rides_alone(self, record: Any) -> bool:
        invoice: Invoice = record
        return not (invoice.payments and self.run.settings.sync.sync_payments)

    def unchanged_row(self, key: str, riders: int) -> None:
        """Its payments were in step with it when its rows' digest was kept: they are counted so again."""
        self.run.unchanged_riders("payments", riders)

    def _customer_for(self, invoice: Invoice) -> int | None:
        """The Halo id of the invoice's customer, carrying an inactive one into Halo if needed.

        None defers the invoice (its customer is not linked and this run has not read it); PlanProblem says
        why the invoice cannot be sent.
        """
        key = invoice.customer_key
        client_id = self.run.halo_id_of("customers", key)
        if client_id is not None:
            return client_id
        held = customers(self.run).held.get(key)
        if held is not None:
            if held.deleted:
                raise PlanProblem(
                    f"Customer {key} is deleted in the books: its invoice {invoice.number or invoice.key} is "
                    "not sent to Halo.",
                    "Restore the customer in the accounting package (or delete the invoice there too); it is "
                    "sent on the next sync.",
                )
            customers(self.run).carry(held)
            client_id = self.run.halo_id_of("customers", key)
            if client_id is not None:
                return client_id
            raise self.run.waiting_for("customers", key, "customer")
        if key in self._missing_customers:
            raise PlanProblem(
                f"The customer {key} of invoice {invoice.number or invoice.key} is not in the books (no "
                "customer has that account reference).",
                "Correct the invoice's customer in the accounting package; it is sent on the next sync.",
            )
        unread = (
            "customers" in self.run.wanted
            and not self._customers_looked_up
            and ("customers", key) not in self.run.problems
            and ("customers", key) not in self.run.skip_reasons
        )
        if unread and len(self._deferred) < CARRY_LIMIT:
            return None
        raise self.run.waiting_for("customers", key, "customer")

    def finish_reading(self) -> None:
        """Invoices whose customer this run had not read: read the customers once, then plan them."""
        if not self._deferred:
            return
        deferred, self._deferred = self._deferred, []
        self._customers_looked_up = True
        wanted = {invoice.customer_key for invoice in deferred}
        seen: set[str] = set()
        held = customers(self.run).held
        for record in self.run.connector.read("customers"):
            if record.key not in wanted:
                continue
            seen.add(record.key)
            if isinstance(record, Customer) and not (record.active and not record.deleted):
                held[record.key] = record
        self._missing_customers = wanted - seen
        self.run.plan_records("invoices", deferred)


SPEC: Spec = EntitySpec(
    name="invoices",
    record_type=Invoice,
    resource="Invoice",
    payload=payloads.invoice_payload,
    match=MatchRules(by_key=True),
    depends_on=("tax_rates", "customers", "items"),
    planner=InvoicePlanner,
)
PAYMENTS: Spec = EntitySpec(
    name="payments",
    record_type=Payment,
    resource="InvoicePayment",
    payload=payloads.payment_payload,
    match=MatchRules(by_key=True),
    depends_on=("invoices",),
    rides_with="invoices",
)
