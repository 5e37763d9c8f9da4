"""Matching before any create: accountsid, the user's mapping, exact normalised name; fuzzy never applied."""

from __future__ import annotations

from collections import Counter

from tests.standins.sage50uk import BASE


def _clients_by_key(sandbox) -> Counter:
    return Counter(str(c.get("accountsid") or "") for c in sandbox.records("Client"))


def test_existing_halo_records_are_linked_not_duplicated(sage_company):
    sandbox = sage_company.sandbox
    by_key = sandbox.seed("Client", {"name": "O'Brien (renamed in Halo)", "accountsid": "obrien "})
    by_name = sandbox.seed("Client", {"name": "ACME Limited"})  # source ACME01 is "Acme Ltd"
    mapped = sandbox.seed("Client", {"name": "Zed Holdings Group"})
    taken = sandbox.seed("Client", {"name": "Smile 😀 Studio — Design", "accountsid": "OTHER99"})
    fuzzy = sandbox.seed("Client", {"name": "Only A Name Limited Group"})
    tax = sandbox.seed("Tax", {"name": "VAT 20", "code": "t1", "value": 20})
    item = sandbox.seed("Item", {"name": "Blue widget", "accountsid": "WIDGET"})
    with sage_company.state() as state:
        state.set_mapping("customer", "ZED", mapped["id"])

    summary = sage_company.run()
    assert summary.status in ("ok", "partial"), summary.error
    with sage_company.state() as state:
        assert state.link("customers", "OBRIEN").halo_id == by_key["id"]
        assert state.link("customers", "ACME01").halo_id == by_name["id"]
        assert state.link("customers", "ZED").halo_id == mapped["id"]
        assert state.link("customers", "SMILE").halo_id != taken["id"]  # carries another key: never a match
        assert state.link("customers", "NULLS").halo_id != fuzzy["id"]  # a near name is only a suggestion
        assert state.link("tax_rates", "T1").halo_id == tax["id"]  # code + rate
        assert state.link("items", "WIDGET").halo_id == item["id"]
    counts = _clients_by_key(sandbox)
    assert all(n == 1 for key, n in counts.items() if key), counts
    # The linked records now carry our keys and content (an update, not a create).
    linked = {c["id"]: c for c in sandbox.records("Client")}
    assert linked[by_name["id"]]["accountsid"] == "ACME01"
    assert linked[by_name["id"]]["name"] == "Acme Ltd"
    assert linked[taken["id"]]["accountsid"] == "OTHER99"  # untouched
    linked_outcomes = [e for e in sage_company.outcomes("updated", "customers") if "existing" in e.message]
    assert {e.key for e in linked_outcomes} == {"OBRIEN", "ACME01", "ZED"}


def test_two_halo_customers_with_the_same_name_ask_the_user(sage_company):
    sandbox = sage_company.sandbox
    sandbox.seed("Client", {"name": "Zed's Last Customer"})
    sandbox.seed("Client", {"name": "ZED'S LAST CUSTOMER LIMITED"})
    sage_company.run()
    with sage_company.state() as state:
        assert state.link("customers", "ZED") is None
        problem = next(p for p in state.problems("customers") if p.key == "ZED")
    assert "Several Halo customers" in problem.message and "Mappings > Customers" in problem.action
    assert problem.source_modified is not None and problem.source_modified.replace(tzinfo=None) == BASE
    # Its invoice waits for it, naming the customer's own problem.
    waiting = next(e for e in sage_company.outcomes("failed", "invoices") if e.key == "1005")
    assert "Waiting for customer ZED" in waiting.message and "Several Halo customers" in waiting.message
    assert sum(1 for c in sandbox.records("Client") if "zed" in c["name"].casefold()) == 2  # nothing created


def test_tax_codes_auto_match_halo_taxes_on_code_and_rate_without_syncing_tax_rates(sage_company):
    sandbox = sage_company.sandbox
    halo = {
        "T0": sandbox.seed("Tax", {"name": "Zero", "code": "T0", "value": 0}),
        "T1": sandbox.seed("Tax", {"name": "Standard", "code": "T1", "value": 20}),
        "T5": sandbox.seed("Tax", {"name": "Reduced", "code": "T5", "value": 7}),  # same code, other rate
    }
    summary = sage_company.run(entities=["customers"])
    assert set(summary.counts) == {"customers", "sites"}
    clients = {c["accountsid"]: c for c in sandbox.records("Client")}
    assert clients["ACME01"]["sales_tax_code"] == halo["T1"]["id"]
    assert clients["ACME02"]["item_tax_code"] == halo["T0"]["id"]
    assert "OBRIEN" not in clients  # T5 at 5% has no Halo tax at 5%: never a wrong tax
    with sage_company.state() as state:
        problem = next(p for p in state.problems("customers") if p.key == "OBRIEN")
    assert problem.message == "Tax code T5 is not mapped to a Halo tax."
