"""Never twice: crashes between Halo's answer and save_link, ambiguous write failures, 429s, 5xx, tokens."""

from __future__ import annotations

from collections import Counter

import pytest

from sync.state import StateStore

RESOURCES = {
    "Tax": "third_party_id",
    "Client": "accountsid",
    "Item": "accountsid",
    "Invoice": "accountsid",
    "InvoicePayment": "thirdpartyid",
}


def _census(sandbox) -> dict[str, Counter]:
    return {r: Counter(str(x.get(f) or "") for x in sandbox.records(r)) for r, f in RESOURCES.items()}


def _assert_complete_and_unique(company, expected: dict[str, Counter]) -> None:
    census = _census(company.sandbox)
    for resource, keys in expected.items():
        assert census[resource] == keys, resource


@pytest.fixture
def clean_census(sage_company, tmp_path):
    """Run the company once against a second, fault-free sandbox to learn the expected Halo content."""
    from halo.sandbox.server import HaloSandbox

    original = sage_company.sandbox
    original_url, original_id = (
        sage_company.settings.halo.resource_server,
        sage_company.settings.halo.client_id,
    )
    original_paths = sage_company.paths
    from sync.paths import app_paths
    from sync.secrets import HALO_CLIENT_SECRET

    original_secret = sage_company.secrets.get(HALO_CLIENT_SECRET)
    with HaloSandbox() as clean:
        sage_company.sandbox = clean
        sage_company.settings.halo.resource_server = clean.url
        sage_company.settings.halo.client_id = clean.client_id
        sage_company.secrets.set(HALO_CLIENT_SECRET, clean.client_secret)
        sage_company.paths = app_paths(tmp_path / "clean-home").ensure()
        sage_company.run()
        census = _census(clean)
    sage_company.sandbox = original
    sage_company.settings.halo.resource_server, sage_company.settings.halo.client_id = (
        original_url,
        original_id,
    )
    sage_company.secrets.set(HALO_CLIENT_SECRET, original_secret)
    sage_company.paths = original_paths
    return census


def test_crash_after_halo_confirmed_before_save_link_leaves_no_duplicate(
    sage_company, clean_census, monkeypatch
):
    real_save_links = StateStore.save_links
    calls = Counter()

    def crash_once(self, links, direction="to_halo"):
        for link in links:  # a batch's links are saved in one transaction: a crash before it keeps none
            calls[link.entity] += 1
            if (
                link.entity in ("customers", "invoices") and calls[link.entity] == 4
            ):  # after Halo said "created"
                raise SystemExit("simulated crash (power cut) right after Halo confirmed")
        return real_save_links(self, links, direction)

    monkeypatch.setattr(StateStore, "save_links", crash_once)
    with pytest.raises(SystemExit):
        sage_company.run()
    with sage_company.state() as state:
        assert len(state.links("customers")) == 3  # the first batch (3), saved before the crash, is kept
    calls.clear()
    with pytest.raises(SystemExit):  # second run crashes in invoices this time
        sage_company.run()
    monkeypatch.setattr(StateStore, "save_links", real_save_links)
    summary = sage_company.run()
    assert summary.error == ""
    _assert_complete_and_unique(sage_company, clean_census)
    again = sage_company.run()
    assert again.total("created") == 0 and again.total("updated") == 0


def test_write_then_500_is_reconciled_not_resent(sage_company, clean_census):
    sage_company.sandbox.faults.error_after_write_rate = 0.5
    sage_company.run()
    sage_company.sandbox.faults.error_after_write_rate = 0.0
    sage_company.run()  # whatever was left (gave up after the reconcile rounds) completes now
    _assert_complete_and_unique(sage_company, clean_census)
    counts = sage_company.sandbox.counts()
    assert counts[("POST", "/api/Client")] >= 3


def test_mixed_faults_end_in_a_complete_sync_without_duplicates(sage_company, clean_census):
    faults = sage_company.sandbox.faults
    faults.rate_limit = (15, 0.5)
    faults.error_rate = 0.15
    faults.error_after_write_rate = 0.15
    faults.drop_rate = 0.1
    faults.html_error_rate = 0.05
    faults.token_lifetime = 1  # tokens expire almost at once: renewed before expiry or once on a 401
    statuses = []
    for _ in range(6):
        summary = sage_company.run()
        statuses.append((summary.status, summary.error))
        census = _census(sage_company.sandbox)
        assert all(n == 1 for keys in census.values() for k, n in keys.items() if k), "a duplicate appeared"
        if census == clean_census:
            break
    _assert_complete_and_unique(sage_company, clean_census)


def test_tokens_expired_mid_run_are_renewed(sage_company, clean_census):
    expired = []

    def listener(event):
        sage_company.events.append(event)
        if len(expired) < 3 and getattr(event, "outcome", "") == "created":
            sage_company.sandbox.expire_tokens()
            expired.append(event)

    summary = sage_company.run(listener=listener)
    assert len(expired) == 3
    assert summary.error == ""
    _assert_complete_and_unique(sage_company, clean_census)


def test_reconcile_is_safe_when_halo_ignores_the_newest_first_order(sage_company, clean_census):
    """A reconcile reads newest first and stops early; a server that ignores `order` must be read to the end
    (here the client drops the ordering parameters, so Halo answers in id order), or a create that landed
    would be missed and sent twice."""
    client = sage_company.client()
    real_iter_records = client.iter_records

    def unordered(resource, params=None, **kwargs):
        params = {k: v for k, v in (params or {}).items() if k not in ("order", "orderdesc")}
        return real_iter_records(resource, params, **kwargs)

    client.iter_records = unordered
    sage_company.sandbox.faults.error_after_write_rate = 0.5
    sage_company.run(client=client)
    sage_company.sandbox.faults.error_after_write_rate = 0.0
    sage_company.run()
    _assert_complete_and_unique(sage_company, clean_census)
