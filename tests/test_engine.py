"""The engine end to end: real Sage 50 UK stand-in through unixODBC -> engine -> real HTTP -> Halo sandbox."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from tests.standins.sage50uk import BASE, touch


def _keys(records: list[dict], field: str = "accountsid") -> Counter:
    return Counter(str(r.get(field) or "") for r in records)


def test_first_sync_creates_everything_once_then_resync_sends_nothing(sage_company):
    source = sage_company.source()
    summary = sage_company.run()
    sandbox = sage_company.sandbox
    active_customers = {c.key for c in source["customers"] if c.active and not c.deleted}
    active_items = {i.key for i in source["items"] if i.active and not i.deleted}
    invoices = {i.key for i in source["invoices"] if not i.deleted and i.customer_key in active_customers}
    payments = {p.key for i in source["invoices"] if i.key in invoices for p in i.payments}

    assert _keys(sandbox.records("Tax"), "third_party_id") == Counter({r.key: 1 for r in source["tax_rates"]})
    assert _keys(sandbox.records("Client")) == Counter({k: 1 for k in active_customers})
    assert _keys(sandbox.records("Item")) == Counter({k: 1 for k in active_items})
    assert _keys(sandbox.records("Invoice")) == Counter({k: 1 for k in invoices})
    assert _keys(sandbox.records("InvoicePayment"), "thirdpartyid") == Counter({k: 1 for k in payments})
    assert summary.status in ("ok", "partial"), summary.error
    created = summary.counts["customers"]["created"]
    assert created == len(active_customers)
    # Every client's main site got its address (an update of the site Halo made with the client).
    sites = {s["accountsid"]: s for s in sandbox.records("Site") if s.get("accountsid")}
    assert set(sites) == active_customers
    acme = next(c for c in source["customers"] if c.key == "ACME01")
    assert sites["ACME01"]["invoice_address"]["line1"] == acme.address.lines[0]
    assert sites["ACME01"]["phonenumber"] == acme.phone

    posts_before = sage_company.posts()
    again = sage_company.run()
    assert sage_company.posts() == posts_before  # no write at all
    assert again.total("created") == again.total("updated") == 0
    assert again.total("unchanged") > 0


def test_one_changed_row_is_exactly_one_update(sage_company):
    sage_company.run()
    posts_before = sage_company.posts()
    touch(
        sage_company.path,
        "SALES_LEDGER",
        "ACCOUNT_REF",
        "OBRIEN",
        BASE + timedelta(days=60),
        NAME="O'Brien & Daughters",
    )
    summary = sage_company.run()
    after = sage_company.posts()
    changed = {
        path: after[path] - posts_before.get(path, 0)
        for path in after
        if after[path] != posts_before.get(path, 0)
    }
    assert changed == {"/api/Client": 1}
    assert summary.counts["customers"]["updated"] == 1
    client = next(c for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "OBRIEN")
    assert client["name"] == "O'Brien & Daughters"
