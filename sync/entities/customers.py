"""Customers -> Halo /Client, each with its main /Site (the customer's addresses).

Why these rules: Halo creates a client's main site itself, so the site is only ever updated, after its
client is confirmed. An inactive customer is not created in Halo unless an invoice needs it ("carried":
created active, then made inactive in a second write, so a create that may have landed is found by key
even on a Halo whose lists leave inactive clients out).

A customer or site whose inputs' fingerprint matches its link's is not rebuilt on a re-read (as invoices,
halo/payloads.fingerprint); an unchanged customer still plans its site, so a site whose last write did not
land is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from core.records import Customer
from core.specs import EntitySpec, MatchRules
from halo import payloads
from sync.entities.base import EntityPlanner, Pending, PlanProblem, Run, Spec
from sync.entities.tax_rates import taxes

log = logging.getLogger("ledgerbridge.sync")

CARRY = "carry"  # created (or matched) for its invoices; a create is made inactive next
CARRIED = "carried"  # that second write: nothing follows it
LEFT_ALONE = (
    "Inactive or deleted in the books; the Halo {noun} is left as it is "
    "(turn on 'Make inactive in Halo' in Settings > Sync to deactivate it)."
)


class CustomerPlanner(EntityPlanner):
    """Plans customers and their main sites; holds back inactive ones until an invoice needs them."""

    keeps_rows = True

    def __init__(self, run: Run, spec: Spec) -> None:
        super().__init__(run, spec)
        self.held: dict[str, Customer] = {}  # inactive/deleted in the books, not in Halo
        self._carried: set[str] = set()  # inactive customers created in Halo this run for their invoices
        self._main_sites: dict[int, int] = {}  # Halo client id -> main site id, from Halo's answers

    def _inactive(self, customer: Customer) -> bool | None:
        """The `inactive` flag to send: None leaves Halo's alone (the 'Make inactive in Halo' option off)."""
        active = customer.active and not customer.deleted
        return (not active) if self.run.settings.sync.deactivate_deleted else None

    def _create_extra(self) -> dict[str, Any] | None:
        toplevel = self.run.settings.sync.toplevel_id
        return {"toplevel_id": toplevel} if toplevel > 0 else None

    def plan(self, record: Any) -> None:
        customer: Customer = record
        not_created = (
            "Deleted in the books: not created in Halo (its invoices are not sent)."
            if customer.deleted
            else "Inactive in the books: created in Halo (inactive) only if it has invoices to carry."
        )
        if self.skip_inactive(
            customer, not_created=not_created, left_alone=LEFT_ALONE.format(noun="customer")
        ):
            if self.run.halo_id_of("customers", customer.key) is None:
                self.held[customer.key] = customer  # an invoice may need it carried into Halo
            return
        tax_id = taxes(self.run).tax_id(customer.tax_code)
        inactive = self._inactive(customer)
        create_extra = self._create_extra()
        # Everything the payload is built from (the create extras too, though only a create sends them).
        inputs = payloads.fingerprint("customer", customer, tax_id, inactive, create_extra)
        by_link = taxes(self.run).by_link(customer.tax_code)
        if self.run.unchanged_inputs(
            self.spec,
            customer,
            inputs,
            {},
            stream="customers",
            modified=customer.modified,
            keep_rows=by_link,
        ):
            return  # settled as unchanged: its main site is still planned (``settled``)
        self.run.plan(
            self.spec,
            customer,
            payloads.client_payload(customer, tax_id=tax_id, inactive=inactive),
            stream="customers",
            modified=customer.modified,
            create_extra=create_extra,
            outcome="deactivated" if inactive else "updated",
            inputs=inputs,
            keep_rows=by_link,
        )

    def linked_keys(self, records: Sequence[Any]) -> dict[str, list[str]]:
        """A customer's own link and its main site's."""
        keys = [record.key for record in records]
        return {"customers": keys, "sites": keys}

    def match(self, record: Any) -> int | None:
        """An existing Halo customer: by accounts ID, the user's mapping, a unique name."""
        found = self.run.lookup(self.spec, record.key, record.name)
        if found is None:
            return None
        if found.get("main_site_id"):
            self._main_sites[int(found["id"])] = int(found["main_site_id"])
        return int(found["id"])

    def settled(self, pending: Pending, halo_id: int, answer: dict[str, Any]) -> None:
        """A confirmed customer's main site follows it; a carried create is made inactive next."""
        if pending.step == CARRIED:
            return
        if answer.get("main_site_id"):
            self._main_sites[halo_id] = int(answer["main_site_id"])
        customer: Customer = pending.record
        self._plan_site(customer, halo_id, None if pending.step == CARRY else self._inactive(customer))
        if pending.step == CARRY and pending.halo_id is None:
            tax_id = taxes(self.run).tax_id(customer.tax_code)
            inactive_payload = payloads.client_payload(customer, tax_id=tax_id, inactive=True)
            deactivation = Pending.update(
                "customers",
                customer,
                inactive_payload,
                halo_id,
                outcome="deactivated",
                stream="invoices",
                modified=None,
                message="made inactive in Halo, as in the books",
                step=CARRIED,
            )
            self.run.queue(deactivation)

    def unchanged_row(self, key: str, riders: int) -> None:
        """Its main site was in step with it when its rows' digest was kept, as ``_plan_site`` finds it."""
        self.run.solved("sites", key)

    def carry(self, customer: Customer) -> None:
        """Put an inactive customer into Halo because an invoice needs it: matched, else created inactive.

        Why: books keep invoices of customers made inactive later; without the customer in Halo every such
        invoice waits for ever. The link's hash is the active payload's until the second write is confirmed.
        """
        if customer.key in self._carried:
            return
        self._carried.add(customer.key)
        try:
            tax_id = taxes(self.run).tax_id(customer.tax_code)
            matched = self.match(customer)
        except PlanProblem as problem:  # the customer's own problem; its invoices wait for it, saying why
            self.run.fail("customers", customer.key, problem.message, problem.action, None, "invoices")
            return
        deactivate = matched is not None and self.run.settings.sync.deactivate_deleted
        payload = payloads.client_payload(customer, tax_id=tax_id, inactive=True if deactivate else None)
        self.run.plan(
            self.spec,
            customer,
            payload,
            stream="invoices",
            modified=None,
            create_extra=self._create_extra(),
            step=CARRY,
            use_link=False,
            known=matched,
        )
        if not self.run.dry_run:
            self.run.flush(("Client", "Site"))

    def _plan_site(self, customer: Customer, client_id: int, inactive: bool | None) -> None:
        if self.run.dry_run:
            return  # the customer's own outcome says what would happen; its site follows it
        link = self.run.link("sites", customer.key)
        site_id = self._main_sites.pop(client_id, None)  # used once: memory does not grow with the books
        if site_id is None and link is not None:
            site_id = link.halo_id
        if site_id is None:
            record = self.run.reader.get_record("Client", client_id) or {}
            site_id = int(record["main_site_id"]) if record.get("main_site_id") else None
        if site_id is None:
            log.info("Halo client %s has no main site: its address is not sent", client_id)
            self.run.keep_no_rows()  # Halo may give it one: the customer is planned again next time
            return
        # A site linked to this id whose inputs are those it was sent with would be sent as it is: not
        # built. A link saved before fingerprints (or cleared by "Sync this record again") is compared by
        # its content hash, and an unchanged one gets the fingerprint without a write to Halo.
        stored = link.content_hash if link is not None and link.halo_id == site_id else None
        stored_content, stored_inputs = payloads.split_stored_hash(stored or "")
        inputs = payloads.fingerprint("site", customer, site_id, client_id, inactive)
        if stored is not None and inputs and stored_inputs == inputs:
            self.run.solved("sites", customer.key)
            return  # counted with its customer; sites have no outcome of their own unless they change
        payload = payloads.site_payload(customer, site_id=site_id, client_id=client_id, inactive=inactive)
        content_hash = payloads.content_hash(payload)
        if stored is not None and stored_content == content_hash:
            kept = payloads.stored_hash(content_hash, inputs)
            if kept != stored:
                self.run.keep_fingerprint("sites", customer.key, stored, kept)
            self.run.solved("sites", customer.key)
            return
        site = Pending.update(
            "sites",
            customer,
            payload,
            site_id,
            outcome="updated",
            stream="customers",
            modified=customer.modified,
            inputs=inputs,
        )
        self.run.queue(site)


def customers(run: Run) -> CustomerPlanner:
    """The run's customers planner (invoices ask it for held customers and to carry one)."""
    planner = run.planner("customers")
    assert isinstance(planner, CustomerPlanner)
    return planner


SPEC: Spec = EntitySpec(
    name="customers",
    record_type=Customer,
    resource="Client",
    payload=payloads.client_payload,
    match=MatchRules(
        by_key=True,
        mapping="customer",
        name_folding="company",
        ambiguous_action="Choose the right one in Mappings > Customers.",
    ),
    depends_on=("tax_rates",),
    planner=CustomerPlanner,
)
SITES: Spec = EntitySpec(
    name="sites",
    record_type=Customer,
    resource="Site",
    payload=payloads.site_payload,
    match=MatchRules(by_key=False),  # Halo makes the main site with its client: only ever updated
    depends_on=("customers",),
    rides_with="customers",
)
