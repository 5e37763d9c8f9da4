"""Items -> Halo /Item, matched by accounts ID, then by a unique name.

Why no deactivation: Halo's published Item schema has no `inactive` field, so an item made inactive in the
books is reported as skipped with that reason rather than changed in Halo.
"""

from __future__ import annotations

from typing import Any

from core.records import Item
from core.specs import EntitySpec
from halo import payloads
from sync.entities.base import KEY_THEN_NAME, EntityPlanner, Spec
from sync.entities.tax_rates import taxes


class ItemPlanner(EntityPlanner):
    keeps_rows = True

    def rides_alone(self, record: Any) -> bool:
        return True

    def plan(self, record: Any) -> None:
        item: Item = record
        left_alone = (
            "Inactive or deleted in the books; Halo's Item has no inactive field, "
            "so the Halo item is left as it is (make it inactive in Halo by hand if needed)."
        )
        if self.skip_inactive(
            item, not_created="Inactive or deleted in the books: not created in Halo.", left_alone=left_alone
        ):
            return
        tax_id = taxes(self.run).tax_id(item.tax_code)
        inputs = payloads.fingerprint("item", item, tax_id)  # everything its payload is built from
        by_link = taxes(self.run).by_link(item.tax_code)
        if self.run.unchanged_inputs(
            self.spec, item, inputs, {}, stream="items", modified=item.modified, keep_rows=by_link
        ):
            return
        payload = payloads.item_payload(item, tax_id=tax_id)
        self.run.plan(
            self.spec, item, payload, stream="items", modified=item.modified, inputs=inputs, keep_rows=by_link
        )


SPEC: Spec = EntitySpec(
    name="items",
    record_type=Item,
    resource="Item",
    payload=payloads.item_payload,
    match=KEY_THEN_NAME,
    depends_on=("tax_rates",),
    planner=ItemPlanner,
)
