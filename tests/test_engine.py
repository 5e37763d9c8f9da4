"""The engine end to end: real Sage 50 UK stand-in through unixODBC -> engine -> real HTTP -> Halo sandbox."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from resources.demo.sage50uk_schema import SageLedger
from tests.standins.sage50uk import BASE, invoice_split, touch


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


def test_cursor_moves_to_the_latest_confirmed_change_and_a_new_payment_reaches_halo(sage_company):
    sage_company.run()
    with sage_company.state() as state:
        assert state.cursor("customers") == BASE.replace(tzinfo=ZoneInfo("Europe/London"))
        invoice_link = state.link("invoices", "1002")
    payments_before = {p["thirdpartyid"] for p in sage_company.sandbox.records("InvoicePayment")}

    connection = sqlite3.connect(sage_company.path)
    try:
        usage = SageLedger(connection).add_receipt(
            invoice_split=invoice_split(connection, 1002),
            account_ref="OBRIEN",
            when=BASE + timedelta(days=40),
            amount=55.0,
            reference="BACS final",
            touch_invoice=False,  # only the allocation changes: it alone must re-read the invoice
        )
        connection.commit()
    finally:
        connection.close()
    posts_before = sage_company.posts()
    summary = sage_company.run()
    payments = sage_company.sandbox.records("InvoicePayment")
    new = [p for p in payments if p["thirdpartyid"] not in payments_before]
    assert len(new) == 1 and new[0]["invoice_id"] == invoice_link.halo_id and new[0]["amount"] == 55.0
    assert str(usage) in new[0]["thirdpartyid"]
    assert summary.counts["payments"]["created"] == 1
    after = sage_company.posts()
    assert after["/api/InvoicePayment"] - posts_before["/api/InvoicePayment"] == 1
