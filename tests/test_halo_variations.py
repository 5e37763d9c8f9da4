"""The engine against every Halo variation the sandbox can play (docs/halo.md): the end-to-end matrix.

Each sandbox mode (how a save is answered, lean list rows, ignored `order`/`includeinactive`, numbers as
text) runs: a first sync crashed twice mid-batch and then completed, a no-change resync, a one-record
(the small company's 1%) change, and a first sync under faults on a fresh Halo. Every step must end with
every record in Halo exactly once, nothing missing (against a clean default-mode sync of the same books),
and every link pointing at a Halo record that carries the linked key.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from halo.sandbox.server import HaloSandbox
from sync.matching import normalise_key
from sync.paths import app_paths
from sync.secrets import HALO_CLIENT_SECRET
from sync.state import StateStore
from tests.fixtures_sync import SageCompany
from tests.standins.sage50uk import BASE, touch

KEY_FIELDS = {
    "Tax": "third_party_id",
    "Client": "accountsid",
    "Item": "accountsid",
    "Invoice": "accountsid",
    "InvoicePayment": "thirdpartyid",
}
LINKED = {
    "tax_rates": "Tax",
    "customers": "Client",
    "items": "Item",
    "invoices": "Invoice",
    "payments": "InvoicePayment",
}
MODES: dict[str, dict[str, Any]] = {
    "array": {},
    "one_object": {"post_answer": "object"},
    "first_only": {"post_answer": "first"},
    "reversed": {"post_answer": "reversed"},
    "shuffled": {"post_answer": "shuffled"},
    "truncated": {"post_answer": "truncated"},
    "empty_body": {"post_answer": "empty"},
    "true": {"post_answer": "true"},
    "lean_rows": {"lean_rows": True},
    "order_ignored": {"ignore_order": True},
    "includeinactive_ignored": {"ignore_includeinactive": True},
    "numbers_as_text": {"numbers_as_text": True},
    "lean_rows_and_empty_body": {"lean_rows": True, "post_answer": "empty"},
}


def census(sandbox: HaloSandbox) -> dict[str, Counter]:
    return {r: Counter(str(x.get(f) or "") for x in sandbox.records(r)) for r, f in KEY_FIELDS.items()}


def assert_once(sandbox: HaloSandbox) -> None:
    for resource, keys in census(sandbox).items():
        doubled = {key: n for key, n in keys.items() if key and n > 1}
        assert not doubled, f"{resource} doubled in Halo: {doubled}"


def assert_links_true(company: SageCompany) -> None:
    """Every link names a Halo record carrying the linked key; sites and invoices sit on the right client."""
    sandbox = company.sandbox
    with company.state() as state:
        for entity, resource in LINKED.items():
            records = {int(r["id"]): r for r in sandbox.records(resource)}
            for key, link in state.links(entity).items():
                record = records.get(link.halo_id)
                assert record is not None, f"{entity} {key} linked to missing Halo {resource} {link.halo_id}"
                carried = normalise_key(record.get(KEY_FIELDS[resource]))
                assert carried == normalise_key(key), f"{entity} {key} linked to the record of {carried}"
        clients = state.links("customers")
        sites = {int(s["id"]): s for s in sandbox.records("Site")}
        for key, link in state.links("sites").items():
            assert sites[link.halo_id]["client_id"] == clients[key].halo_id, f"site of {key} mislinked"
        invoices = {int(r["id"]): r for r in sandbox.records("Invoice")}
        for invoice in company.source()["invoices"]:
            link = state.link("invoices", invoice.key)
            if link is not None:
                assert invoices[link.halo_id]["client_id"] == clients[invoice.customer_key].halo_id


def use_sandbox(company: SageCompany, sandbox: HaloSandbox, home: str) -> None:
    """Point the company at ``sandbox`` with a fresh state store (a new data folder)."""
    company.sandbox = sandbox
    company.settings.halo.resource_server = sandbox.url
    company.settings.halo.client_id = sandbox.client_id
    company.secrets.set(HALO_CLIENT_SECRET, sandbox.client_secret)
    company.paths = app_paths(company.path.parent / home).ensure()


@pytest.fixture
def clean(sage_company: SageCompany) -> dict[str, Counter]:
    """What a clean default-mode sync of the same books leaves in Halo (the expected census)."""
    original, original_paths = sage_company.sandbox, sage_company.paths
    with HaloSandbox() as reference:
        use_sandbox(sage_company, reference, "reference-home")
        sage_company.run()
        expected = census(reference)
        CLEAN_POSTS[id(sage_company)] = posts(reference)
        CLEAN_PROBLEMS[id(sage_company)] = problem_keys(sage_company)
    use_sandbox(sage_company, original, "lbhome-matrix")
    sage_company.paths = original_paths
    return expected


CLEAN_POSTS: dict[int, int] = {}  # POSTs of the clean reference sync, per company
CLEAN_PROBLEMS: dict[int, set[tuple[str, str]]] = {}  # the books' own problems, per company


def problem_keys(company: SageCompany) -> set[tuple[str, str]]:
    with company.state() as state:
        return {(p.entity, p.key) for p in state.problems()}


def crash_after(entity: str, nth: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Power cut right after Halo confirmed the ``nth`` ``entity`` write, before it was saved as a link.

    The engine saves a confirmed batch's links in one transaction, so the cut loses that whole batch's.
    SystemExit unwinds through ``finally`` blocks, which a power cut never runs: once it is raised, nothing
    more reaches the state store (no cursor saved on the way out), as with SIGKILL.
    """
    real_links, real_cursor = StateStore.save_links, StateStore.save_cursor
    seen = Counter()
    crashed = []

    def save_links(self, links, *args, **kwargs):
        for link in links:
            seen[link.entity] += 1
            if crashed or (link.entity == entity and seen[link.entity] == nth):
                crashed.append(True)
                raise SystemExit(f"simulated crash after Halo confirmed {entity} #{nth}")
        return real_links(self, links, *args, **kwargs)

    def save_cursor(self, stream, value):
        if not crashed:
            real_cursor(self, stream, value)

    monkeypatch.setattr(StateStore, "save_links", save_links)
    monkeypatch.setattr(StateStore, "save_cursor", save_cursor)


def no_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StateStore, "save_links", REAL_SAVE_LINKS)
    monkeypatch.setattr(StateStore, "save_cursor", REAL_SAVE_CURSOR)


REAL_SAVE_LINKS, REAL_SAVE_CURSOR = StateStore.save_links, StateStore.save_cursor


def posts(sandbox: HaloSandbox) -> int:
    return sum(n for (method, path), n in sandbox.counts().items() if method == "POST" and "/api/" in path)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_sandbox_mode_ends_with_every_record_once(sage_company, clean, mode, monkeypatch):
    sandbox = sage_company.sandbox
    sandbox.faults.update(MODES[mode])

    # First sync, crashed twice mid-batch (after Halo confirmed, before the link was saved), then completed.
    for entity in ("customers", "invoices"):
        crash_after(entity, 4, monkeypatch)
        with pytest.raises(SystemExit):
            sage_company.run()
        no_crash(monkeypatch)
        assert_once(sandbox)
    summary = sage_company.run()
    assert summary.status in ("ok", "partial") and summary.error == "", summary.error
    assert census(sandbox) == clean
    assert_links_true(sage_company)
    assert problem_keys(sage_company) == CLEAN_PROBLEMS[id(sage_company)], "only the books' own problems left"

    # No-change resync: nothing sent.
    before = posts(sandbox)
    again = sage_company.run()
    assert posts(sandbox) == before and again.total("created") == again.total("updated") == 0

    # The small company's 1%: one customer's address changes.
    touch(
        sage_company.path,
        "SALES_LEDGER",
        "ACCOUNT_REF",
        "ACME01",
        BASE + timedelta(days=30),
        ADDRESS_1="9 Moved Rd",
    )
    changed = sage_company.run()
    assert changed.error == "" and changed.counts["sites"]["updated"] == 1
    with sage_company.state() as state:
        site_id = state.link("sites", "ACME01").halo_id
    (site,) = [s for s in sandbox.records("Site") if s["id"] == site_id]
    assert site["invoice_address"]["line1"] == "9 Moved Rd"
    assert census(sandbox) == clean
    assert_links_true(sage_company)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_first_sync_under_faults_in_every_mode_ends_complete_and_single(sage_company, clean, mode):
    sandbox = sage_company.sandbox
    sandbox.faults.update({**MODES[mode], "error_rate": 0.1, "error_after_write_rate": 0.25, "seed": 7})
    sandbox.faults.drop_rate = 0.05
    for _ in range(6):
        sage_company.run()
        assert_once(sandbox)
        if census(sandbox) == clean:
            break
    sandbox.faults.update({"error_rate": 0.0, "error_after_write_rate": 0.0, "drop_rate": 0.0})
    sage_company.run()  # whatever the faults left (problems to retry) completes without faults
    assert posts(sandbox) > CLEAN_POSTS[id(sage_company)], "the faults never made anything be sent again"
    assert census(sandbox) == clean
    assert_links_true(sage_company)
    assert problem_keys(sage_company) == CLEAN_PROBLEMS[id(sage_company)], "only the books' own problems left"
