"""Every failure has a home: problems while the rest syncs, cleared once fixed; cursors never pass them."""

from __future__ import annotations

from datetime import timedelta

from tests.standins.sage50uk import BASE, touch


def test_unmapped_tax_code_is_a_problem_and_its_invoice_waits_until_fixed(sage_company):
    touch(
        sage_company.path,
        "SALES_LEDGER",
        "ACCOUNT_REF",
        "ACME02",
        BASE + timedelta(days=1),
        DEF_TAX_CODE="T7",
    )
    summary = sage_company.run()
    assert summary.status == "partial" and summary.exit_code == 1
    with sage_company.state() as state:
        problems = {(p.entity, p.key): p for p in state.problems()}
        assert state.link("customers", "ACME02") is None
        assert state.link("customers", "ACME01") is not None  # the rest synced
        cursor = state.cursor("customers")
    tax_problem = problems[("customers", "ACME02")]
    # T7 is in no tax table of the books: it cannot be mapped (Mappings never lists it), only corrected.
    assert tax_problem.message == "Tax code T7 is not one of the tax codes in the books."
    assert "in the accounting package" in tax_problem.action and "Mappings" not in tax_problem.action
    waiting = problems[("invoices", "1004")]
    assert waiting.message.startswith("Waiting for customer ACME02 (Tax code T7 is not one of the tax codes")
    assert not any(c.get("accountsid") == "ACME02" for c in sage_company.sandbox.records("Client"))
    # The cursor stays at or before the failed record, so it is read again next time.
    assert cursor is not None and cursor <= tax_problem.source_modified

    again = sage_company.run()  # not fixed yet: still a problem, counted again, nothing new
    with sage_company.state() as state:
        assert next(p for p in state.problems() if p.key == "ACME02").occurrences == 2
    assert again.counts["customers"]["failed"] >= 1

    touch(
        sage_company.path,
        "SALES_LEDGER",
        "ACCOUNT_REF",
        "ACME02",
        BASE + timedelta(days=2),
        DEF_TAX_CODE="T0",
    )
    fixed = sage_company.run()
    with sage_company.state() as state:
        remaining = {(p.entity, p.key) for p in state.problems()}
        assert state.link("customers", "ACME02") is not None
        assert state.link("invoices", "1004") is not None
    assert ("customers", "ACME02") not in remaining and ("invoices", "1004") not in remaining
    assert fixed.counts["invoices"]["created"] == 1


def test_a_user_tax_mapping_fixes_an_unknown_code(sage_company):
    sage_company.settings.sync.entities = ["customers"]  # no tax rates in the sync: codes need mappings
    taxes = {
        code: sage_company.sandbox.seed("Tax", {"name": code, "code": code, "value": 0}) for code in ("X0",)
    }
    summary = sage_company.run()
    with sage_company.state() as state:
        unmapped = {p.key for p in state.problems("customers")}
    assert "ACME01" in unmapped and summary.counts["customers"]["created"] >= 1  # SMILE has no tax code
    with sage_company.state() as state:
        for key in ("T0", "T1", "T5"):
            state.set_mapping("tax", key, taxes["X0"]["id"])
        state.rewind_for_problems()
    sage_company.run()
    with sage_company.state() as state:
        assert state.link("customers", "ACME01") is not None
        assert not [p for p in state.problems("customers") if p.key in ("ACME01", "ACME02", "OBRIEN")]
    acme = next(c for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "ACME01")
    assert acme["sales_tax_code"] == taxes["X0"]["id"]


def test_a_record_halo_refuses_is_isolated_and_the_batch_goes_on(sage_company):
    sandbox = sage_company.sandbox
    for key in ("ACME01", "OBRIEN"):
        sandbox.seed("Client", {"name": f"old {key}", "accountsid": key})
    with sage_company.state() as state:
        state.set_mapping("customer", "ZED", 424242)  # a Halo id that does not exist: Halo answers 400
    sage_company.settings.halo.batch_size = 10
    summary = sage_company.run()
    with sage_company.state() as state:
        problem = next(p for p in state.problems("customers") if p.key == "ZED")
        assert state.link("customers", "ACME01") is not None and state.link("customers", "OBRIEN") is not None
    assert problem.message.startswith("Halo refused the customer ZED:") and "424242" in problem.message
    assert summary.counts["customers"]["updated"] == 2
    failed = {e.key for e in sage_company.outcomes("failed", "customers")}
    assert "ZED" in failed

    with sage_company.state() as state:
        state.set_mapping("customer", "ZED", None)
        state.rewind_for_problems(["customers"])
    sage_company.run()
    with sage_company.state() as state:
        assert state.link("customers", "ZED") is not None
        assert not [p for p in state.problems() if p.key == "ZED"]


def test_bisect_without_record_index_finds_the_bad_record(sage_company, monkeypatch):
    """Halo does not always say which record; the engine halves the batch until it finds it."""
    from core.errors import RecordError
    from halo.client import HaloClient

    real_save = HaloClient.save
    sent_sizes = []

    def refuse_batches_with_obrien(self, resource, records):
        sent_sizes.append(len(records))
        if resource == "Client" and any(r.get("accountsid") == "OBRIEN" for r in records):
            raise RecordError("Halo refused the batch.")  # no record_index
        return real_save(self, resource, records)

    monkeypatch.setattr(HaloClient, "save", refuse_batches_with_obrien)  # injection at the client edge
    sage_company.settings.halo.batch_size = 8
    sage_company.run()
    with sage_company.state() as state:
        links = state.links("customers")
    assert "OBRIEN" not in links and {"ACME01", "ACME02", "ZED", "SMILE"} <= set(links)
    assert 1 in sent_sizes and 8 in sent_sizes


def test_a_link_to_a_record_deleted_in_halo_is_dropped_and_matched_again(sage_company):
    sage_company.run()
    with sage_company.state() as state:
        real = state.link("customers", "OBRIEN")
        state.save_link("customers", "OBRIEN", 987654, "stale-hash")  # Halo has no 987654
    summary = sage_company.run()
    with sage_company.state() as state:
        assert state.link("customers", "OBRIEN").halo_id == real.halo_id  # re-matched by accountsid
        assert not state.problems("customers") or all(p.key != "OBRIEN" for p in state.problems("customers"))
    assert sum(1 for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "OBRIEN") == 1
    assert summary.counts["customers"]["updated"] == 1


def test_source_rows_that_cannot_be_read_are_problems_and_hold_the_cursor(sage_company):
    sage_company.run()
    with sage_company.state() as state:
        problems = {(p.entity, p.key): p for p in state.problems()}
        invoice_cursor = state.cursor("invoices")
    assert ("customers", "NONAME") in problems and ("invoices", "1007") in problems
    assert invoice_cursor is not None and invoice_cursor <= problems[("invoices", "1007")].source_modified


def test_an_invoice_of_an_inactive_customer_carries_the_customer_into_halo_as_inactive(sage_company):
    """Issue 10 changed this: the invoice used to wait for ever ("Inactive in the books: not created")."""
    touch(sage_company.path, "INVOICE", "INVOICE_NUMBER", 1005, BASE + timedelta(days=5), ACCOUNT_REF="INACT")
    sage_company.run()
    with sage_company.state() as state:
        assert not [p for p in state.problems("invoices") if p.key == "1005"]
        client_id = state.link("customers", "INACT").halo_id
        invoice_id = state.link("invoices", "1005").halo_id
    (client,) = [c for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "INACT"]
    assert client["id"] == client_id and client["inactive"] is True
    (invoice,) = [i for i in sage_company.sandbox.records("Invoice") if i["id"] == invoice_id]
    assert invoice["client_id"] == client_id
