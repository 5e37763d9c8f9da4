"""Tax rates -> Halo /Tax, and the tax codes every other entity's payload refers to.

Why here: which Halo tax a books' tax code is (mapping, link, a unique code + rate) is asked by customers,
suppliers, items and invoice lines alike; Halo refuses /Tax without admin rights on the API application
(its Accounts Integrator guide), and the run then goes on with the taxes already linked or mapped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from core.errors import AuthError
from core.records import TaxRate
from core.specs import EntitySpec, MatchRules
from halo import payloads
from halo.resources import resource
from sync.entities.base import EntityPlanner, Pending, PlanProblem, Run, Spec
from sync.events import LogMessage
from sync.matching import HaloIndex, tax_matches

log = logging.getLogger("ledgerbridge.sync")

TAX_ADMIN_MESSAGE = (
    "Halo refused LedgerBridge access to its taxes: the first tax import needs admin rights on the API "
    "application (Halo's Accounts Integrator setup guide says so)."
)
TAX_ADMIN_ACTION = (
    "In Halo, tick Admin on the API application's Permissions tab (Configuration > Integrations > Halo API), "
    "or map each tax code in Mappings > Tax codes; taxes already linked or mapped are used meanwhile."
)


class TaxRatePlanner(EntityPlanner):
    """Plans tax rates, and answers every other entity's "which Halo tax is this code?" once per code."""

    def __init__(self, run: Run, spec: Spec) -> None:
        super().__init__(run, spec)
        self._ids: dict[str, int | None] = {}
        self._failures: dict[str, PlanProblem] = {}
        self.refusal: PlanProblem | None = None  # Halo refused /Tax (403) this run
        self._source: dict[str, TaxRate] | None = None
        self._by_link: set[str] = set()  # codes whose Halo tax is the user's mapping or a link

    # --- the tax codes other entities refer to ----------------------------------------------------------

    def tax_id(self, tax_key: str) -> int | None:
        """The Halo tax for a source tax code: user mapping, then link, then a unique code+rate match."""
        if not tax_key:
            return None
        if tax_key in self._ids:
            return self._ids[tax_key]
        if tax_key in self._failures:
            raise self._failures[tax_key]
        halo_id = self.run.state.mapping("tax", tax_key)
        if halo_id is None:
            halo_id = self.run.halo_id_of("tax_rates", tax_key)
        if halo_id is not None:
            self._by_link.add(tax_key)
        if halo_id is None:
            source = self.source_rates().get(tax_key)
            if source is not None:
                found = tax_matches(source.code, source.rate, self._halo_index().records())
                if len(found) == 1 and found[0].get("id"):
                    halo_id = int(found[0]["id"])
        if halo_id is None:
            problem = self._unmapped(tax_key)
            self._failures[tax_key] = problem
            raise problem
        self._ids[tax_key] = halo_id
        return halo_id

    def by_link(self, tax_key: str) -> bool:
        """Whether the code's Halo tax (``tax_id`` asked first) is the user's mapping or a link, which only
        a counted change can move (sync/known_rows.py), rather than one found in Halo's list by its rate."""
        return not tax_key or tax_key in self._by_link

    def _unmapped(self, tax_key: str) -> PlanProblem:
        code = self.source_rates().get(tax_key)
        if code is None:  # not in the books' tax table: it can be neither synced nor mapped
            return PlanProblem(
                f"Tax code {tax_key} is not one of the tax codes in the books.",
                f"Correct this record's tax code in the accounting package (or add {tax_key} to its "
                "tax codes there); the next sync picks it up.",
            )
        if self.refusal is not None:
            return PlanProblem(
                f"Tax code {code.code} is not mapped to a Halo tax, and Halo refused LedgerBridge access "
                "to its taxes (the first tax import needs admin rights on the API application).",
                TAX_ADMIN_ACTION,
            )
        return PlanProblem(
            f"Tax code {code.code} is not mapped to a Halo tax.",
            "Map it in Mappings > Tax codes, or include tax rates in the sync (Settings > Sync).",
        )

    def code_label(self, tax_key: str) -> str:
        """The code a person reads on an invoice line ("T1"), for a source tax key."""
        if not tax_key:
            return ""
        rate = (self._source or {}).get(tax_key)
        return rate.code if rate is not None else tax_key

    def source_rates(self) -> dict[str, TaxRate]:
        if self._source is None:
            offered = {stream.name for stream in self.run.connector.streams()}
            rates = self.run.connector.read("tax_rates") if "tax_rates" in offered else ()
            self._source = {r.key: r for r in rates if isinstance(r, TaxRate)}
        return self._source

    def prepare(self) -> None:
        self.source_rates()  # tiny; read up front so no read is nested inside another stream

    def _halo_index(self) -> HaloIndex:
        """Halo's taxes; a refused read (403: admin rights) leaves an empty index, said once per run."""
        if self.refusal is None and not self.run.halo.has("Tax"):
            try:
                return self.run.halo.index("Tax")
            except AuthError as exc:
                self._refused(exc)
        return self.run.halo.get("Tax") or self._empty_index()

    def _empty_index(self) -> HaloIndex:
        index = HaloIndex(name_field="name", key_field=resource("Tax").key_field)
        self.run.halo.put("Tax", index)
        return index

    def _refused(self, exc: AuthError) -> None:
        """Halo refused /Tax: the first tax import needs admin rights; the run goes on with known mappings."""
        self.refusal = PlanProblem(TAX_ADMIN_MESSAGE, TAX_ADMIN_ACTION)
        log.warning("%s (%s)", TAX_ADMIN_MESSAGE, exc.detail or exc.message)
        self.run.emit(LogMessage("warning", f"{TAX_ADMIN_MESSAGE} {TAX_ADMIN_ACTION}"))
        self._empty_index()

    def forbidden(self, exc: AuthError, batch: Sequence[Pending]) -> bool:
        """Saving taxes needs admin rights in Halo; the rest of the run goes on without them."""
        if self.refusal is None:
            self._refused(exc)
        for pending in batch:
            self.run.fail(
                pending.entity,
                pending.key,
                TAX_ADMIN_MESSAGE,
                TAX_ADMIN_ACTION,
                pending.modified,
                pending.stream,
            )
        return True

    # --- tax rates themselves -----------------------------------------------------------------------------

    def plan(self, record: Any) -> None:
        rate: TaxRate = record
        left_alone = (
            "Inactive in the books; Halo's Tax has no inactive field, so the Halo tax is left as it is."
        )
        if self.skip_inactive(
            rate, not_created="Inactive in the books: not created in Halo.", left_alone=left_alone
        ):
            return
        self.run.plan(self.spec, rate, payloads.tax_payload(rate), stream="tax_rates", modified=rate.modified)

    def match(self, record: Any) -> int | None:
        """By key, then the user's mapping, then one untaken Halo tax of the same code and rate."""
        rate: TaxRate = record
        index = self._halo_index()
        mapped = self.run.state.mapping("tax", rate.key)
        if self.refusal is not None:
            if mapped is not None:
                return mapped
            raise self.refusal  # neither matched nor created without admin rights
        found = self.run.halo.match_by_key("Tax", rate.key)
        if found is not None:
            return int(found["id"])
        if mapped is not None:
            return mapped
        candidates = [
            t
            for t in self.run.halo.free("Tax", tax_matches(rate.code, rate.rate, index.records()))
            if not t.get("third_party_id")
            or str(t["third_party_id"]).strip().casefold() == rate.key.casefold()
        ]
        if len(candidates) > 1:
            ids = ", ".join(str(t["id"]) for t in candidates)
            raise PlanProblem(
                f"Several Halo taxes have code {rate.code} at {rate.rate}% (ids {ids}).",
                "Choose one in Mappings > Tax codes.",
            )
        return int(candidates[0]["id"]) if candidates else None


def taxes(run: Run) -> TaxRatePlanner:
    """The run's tax codes (every run has one, whether tax rates are synced or not)."""
    planner = run.planner("tax_rates")
    assert isinstance(planner, TaxRatePlanner)
    return planner


SPEC: Spec = EntitySpec(
    name="tax_rates",
    record_type=TaxRate,
    resource="Tax",
    payload=payloads.tax_payload,
    match=MatchRules(by_key=True, mapping="tax"),  # then one Halo tax of the same code and rate
    planner=TaxRatePlanner,
)
