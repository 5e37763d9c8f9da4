"""Suppliers from the books to Halo through every real part: the Sage 50 UK stand-in's PURCHASE_LEDGER over
unixODBC, the engine's supplier spec, a real HaloClient and the sandbox's /Supplier (validated against the
OpenAPI's Company schema). The seam's proof: one spec, one payload, one read per connector, one table row.
"""

from __future__ import annotations

from collections import Counter

from tests.standins.sage50uk import SUPPLIERS


def _halo_suppliers(sandbox) -> dict[str, dict]:
    records = sandbox.records("Supplier")
    keys = Counter(r.get("accounts_id") for r in records)
    assert all(n == 1 for n in keys.values()), keys  # never twice
    return {r["accounts_id"]: r for r in records}


def test_suppliers_are_not_synced_unless_chosen(sage_company):
    summary = sage_company.run()
    assert summary.status in ("ok", "partial")
    assert sage_company.sandbox.records("Supplier") == []


def test_chosen_suppliers_reach_halo_once_with_their_accounts_id(sage_company):
    sage_company.settings.sync.entities = ["tax_rates", "suppliers"]
    first = sage_company.run()
    halo = _halo_suppliers(sage_company.sandbox)
    assert "CON001" in halo
    concept = halo["CON001"]
    assert concept["name"] == "Concept Stationery Supplies"
    assert concept.get("email_address") == "orders@concept.example"
    assert "GONE01" not in halo  # deleted in the books: never created
    assert "OLDSUP" not in halo  # inactive with nothing to carry: skipped, as customers are
    assert first.counts["suppliers"]["created"] == len(halo)
    assert first.counts["suppliers"]["failed"] >= 1  # the nameless row is a problem, not a blank supplier

    again = sage_company.run()  # nothing changed in the books: nothing sent
    assert again.counts["suppliers"].get("created", 0) == 0
    assert again.counts["suppliers"].get("updated", 0) == 0
    assert _halo_suppliers(sage_company.sandbox) == halo
    with sage_company.state() as state:
        links = state.links("suppliers")
    assert {key: link.halo_id for key, link in links.items()} == {k: r["id"] for k, r in halo.items()}
    assert len(SUPPLIERS) > len(halo)
