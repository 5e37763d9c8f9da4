"""Suppliers -> Halo /Supplier (the OpenAPI's Company schema), off by default in *What to sync*.

Why these rules: the books' key goes in `accounts_id` (Halo's own accounts integrations keep it there), so
a supplier is matched by that key first, then by its exact normalised name; Company has an `inactive`
flag, so a supplier inactive in the books is handled as a customer is: not created, and made inactive in
Halo only when the 'Make inactive in Halo' option is on.
"""

from __future__ import annotations

from typing import Any

from core.records import Supplier
from core.specs import EntitySpec
from halo import payloads
from sync.entities.base import KEY_THEN_NAME, EntityPlanner, Spec
from sync.entities.customers import LEFT_ALONE
from sync.entities.tax_rates import taxes


class SupplierPlanner(EntityPlanner):
    def plan(self, record: Any) -> None:
        supplier: Supplier = record
        not_created = "Inactive or deleted in the books: not created in Halo."
        if self.skip_inactive(
            supplier, not_created=not_created, left_alone=LEFT_ALONE.format(noun="supplier")
        ):
            return
        active = supplier.active and not supplier.deleted
        inactive = (not active) if self.run.settings.sync.deactivate_deleted else None
        payload = payloads.supplier_payload(
            supplier, tax_id=taxes(self.run).tax_id(supplier.tax_code), inactive=inactive
        )
        self.run.plan(
            self.spec,
            supplier,
            payload,
            stream="suppliers",
            modified=supplier.modified,
            outcome="deactivated" if inactive else "updated",
        )


SPEC: Spec = EntitySpec(
    name="suppliers",
    record_type=Supplier,
    resource="Supplier",
    payload=payloads.supplier_payload,
    match=KEY_THEN_NAME,
    depends_on=("tax_rates",),
    planner=SupplierPlanner,
)
