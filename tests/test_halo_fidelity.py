"""Halo behaviours the engine must survive (docs/halo.md): records the agent cannot see, records deleted in
Halo, a /Tax that needs admin rights, lean list rows, and inactive customers that still have invoices."""

from __future__ import annotations

from datetime import timedelta

from halo.client import HaloClient
from sync.entities.tax_rates import TAX_ADMIN_MESSAGE
from tests.standins.sage50uk import BASE, touch
from tests.test_halo_variations import assert_links_true, assert_once, census

LATER = BASE + timedelta(days=30)


def _unlink_and_reread(company, key: str) -> None:
    """As if ``key`` were a new customer in the books: no link, and the customers stream read again."""
    with company.state() as state:
        state.drop_link("customers", key)
        state.drop_link("sites", key)
        state.save_cursor("customers", None)


# --- visibility ---------------------------------------------------------------------------------------------


def test_an_agent_that_cannot_see_linked_clients_stops_before_creating_anything(sage_company):
    sage_company.run()
    sandbox = sage_company.sandbox
    clients = sorted(c["id"] for c in sandbox.records("Client"))
    sandbox.faults.update({"hidden_clients": clients[: len(clients) // 2]})
    _unlink_and_reread(sage_company, "ZED")
    before = census(sandbox)
    summary = sage_company.run()
    assert summary.status == "failed" and summary.exit_code == 2
    for words in ("teams and departments", "All Standard", "Login Type"):
        assert words in summary.error, summary.error
    assert census(sandbox) == before, "nothing may be created while Halo hides linked records"


def test_an_empty_client_list_while_links_exist_is_not_an_empty_halo(sage_company):
    sage_company.run()
    sandbox = sage_company.sandbox
    sandbox.faults.update({"hidden_clients": [c["id"] for c in sandbox.records("Client")]})
    _unlink_and_reread(sage_company, "ZED")
    summary = sage_company.run()
    assert summary.status == "failed" and "Halo shows no customers" in summary.error
    assert_once(sandbox)
    with sage_company.state() as state:  # the cursor did not move past the customers never sent
        assert state.cursor("customers") is None


def test_a_halo_ignoring_includeinactive_still_matches_linked_inactive_clients(sage_company):
    touch(sage_company.path, "INVOICE", "INVOICE_NUMBER", 1005, LATER, ACCOUNT_REF="INACT")
    sage_company.run()
    sandbox = sage_company.sandbox
    (inactive,) = [c for c in sandbox.records("Client") if c.get("accountsid") == "INACT"]
    assert inactive["inactive"] is True
    sandbox.faults.update({"ignore_includeinactive": True})
    _unlink_and_reread(sage_company, "ZED")  # an unlinked record makes the engine read Halo's client list
    summary = sage_company.run()
    assert summary.error == ""
    assert_once(sandbox)
    assert_links_true(sage_company)
    with sage_company.state() as state:
        assert state.link("customers", "INACT").halo_id == inactive["id"]


# --- a linked record deleted in Halo ------------------------------------------------------------------------


def test_a_linked_record_deleted_in_halo_is_a_problem_not_a_silent_re_create(sage_company):
    sage_company.run()
    sandbox = sage_company.sandbox
    with sage_company.state() as state:
        gone = state.link("customers", "ACME02").halo_id
    assert sandbox.delete("Client", gone)
    touch(sage_company.path, "SALES_LEDGER", "ACCOUNT_REF", "ACME02", LATER, NAME="Acme Two Renamed")
    summary = sage_company.run()
    assert summary.exit_code == 1
    with sage_company.state() as state:
        (problem,) = [p for p in state.problems("customers") if p.key == "ACME02"]
    assert "deleted in Halo" in problem.message and "relink or re-create" in problem.message
    assert "accounts ID ACME02" in problem.action
    assert not [c for c in sandbox.records("Client") if c.get("accountsid") == "ACME02"]

    # The user re-creates it in Halo with the accounts ID: the next sync relinks it and brings it up to date.
    recreated = sandbox.seed("Client", {"name": "Acme Two", "accountsid": "ACME02"})
    sage_company.run()
    with sage_company.state() as state:
        assert state.link("customers", "ACME02").halo_id == recreated["id"]
        assert not [p for p in state.problems("customers") if p.key == "ACME02"]
    (client,) = [c for c in sandbox.records("Client") if c.get("accountsid") == "ACME02"]
    assert client["name"] == "Acme Two Renamed"


# --- /Tax needs admin rights --------------------------------------------------------------------------------


def test_a_403_on_tax_says_admin_rights_and_the_run_goes_on_with_known_mappings(sage_company):
    sandbox = sage_company.sandbox
    standard = sandbox.seed("Tax", {"name": "Standard", "code": "T1", "value": 20})
    with sage_company.state() as state:
        state.set_mapping("tax", "T1", standard["id"])
    sandbox.faults.update({"admin_only": ["Tax"]})
    summary = sage_company.run()
    assert summary.status == "partial" and summary.exit_code == 1
    with sage_company.state() as state:
        tax_problems = state.problems("tax_rates")
        customers = state.links("customers")
        other = [p for p in state.problems("customers") if "admin rights" in p.message]
    assert tax_problems and all(p.message == TAX_ADMIN_MESSAGE for p in tax_problems)
    assert all("Permissions tab" in p.action for p in tax_problems)
    assert "ACME01" in customers, "a customer whose tax code is mapped still reaches Halo"
    assert other, "a customer whose tax code is not mapped says why"
    assert [t["id"] for t in sandbox.records("Tax")] == [standard["id"]]


# --- lean list rows -----------------------------------------------------------------------------------------


def test_lean_list_rows_are_read_in_full_once_and_counted(sage_company):
    sage_company.run()
    sandbox = sage_company.sandbox
    sandbox.faults.update({"lean_rows": True})
    with sage_company.state() as state:  # a fresh state store: every record relinked by key
        for entity in ("tax_rates", "customers", "sites", "items", "invoices", "payments"):
            for key in list(state.links(entity)):
                state.drop_link(entity, key)
            state.save_cursor(entity, None)
    client: HaloClient = sage_company.client()
    summary = sage_company.run(client=client)
    assert summary.total("created") == 0, "lean rows must not hide what Halo holds"
    assert_once(sandbox)
    assert_links_true(sage_company)
    lookups = client.stats.lookups
    assert lookups["Client list row without accountsid"] == len(sandbox.records("Client"))
    assert sum(lookups.values()) == sum(
        n for (method, path), n in client.stats.requests.items() if method == "GET" and path.endswith("{id}")
    )


# --- inactive customers with invoices to carry --------------------------------------------------------------


def test_inactive_customers_with_invoices_reach_halo_inactive_and_all_their_invoices_land(sage_company):
    path = sage_company.path
    touch(path, "SALES_LEDGER", "ACCOUNT_REF", "ACME02", LATER, INACTIVE_FLAG=1)  # has invoice 1004
    touch(path, "INVOICE", "INVOICE_NUMBER", 1005, LATER, ACCOUNT_REF="INACT")
    touch(path, "INVOICE", "INVOICE_NUMBER", 1009, LATER, ACCOUNT_REF="GONE")  # a deleted customer
    source = sage_company.source()
    carried = {i.key: i.customer_key for i in source["invoices"] if i.customer_key in ("ACME02", "INACT")}
    assert len(carried) >= 2
    summary = sage_company.run()
    sandbox = sage_company.sandbox
    with sage_company.state() as state:
        for invoice_key in carried:
            assert state.link("invoices", invoice_key) is not None, f"invoice {invoice_key} did not land"
        (gone,) = [p for p in state.problems("invoices") if p.key == "1009"]
        assert not state.link("customers", "GONE")
    assert "deleted in the books" in gone.message and "Restore the customer" in gone.action
    clients = {c["accountsid"]: c for c in sandbox.records("Client") if c.get("accountsid")}
    assert clients["ACME02"]["inactive"] is True and clients["INACT"]["inactive"] is True
    assert "GONE" not in clients
    assert summary.counts["customers"]["created"] >= 2
    assert_once(sandbox)
    assert_links_true(sage_company)
    again = sage_company.run()
    assert again.total("created") == again.total("updated") == 0, "carried customers stay settled"


def test_an_inactive_customer_skipped_in_an_earlier_run_is_carried_when_its_invoice_comes(sage_company):
    sage_company.run()  # INACT skipped (no invoice yet); the customers cursor moves past it
    touch(sage_company.path, "INVOICE", "INVOICE_NUMBER", 1005, LATER, ACCOUNT_REF="INACT")
    sage_company.run()
    with sage_company.state() as state:
        assert state.link("invoices", "1005") is not None
        assert not state.problems("invoices") or all(p.key != "1005" for p in state.problems("invoices"))
    (client,) = [c for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "INACT"]
    assert client["inactive"] is True


def test_an_invoice_of_a_customer_the_books_do_not_hold_says_so(sage_company):
    touch(sage_company.path, "INVOICE", "INVOICE_NUMBER", 1005, LATER, ACCOUNT_REF="NOSUCH")
    sage_company.run()
    with sage_company.state() as state:
        (problem,) = [p for p in state.problems("invoices") if p.key == "1005"]
    assert "NOSUCH" in problem.message and "not in the books" in problem.message
    assert not [c for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "NOSUCH"]
