"""End to end: invoices raised in Halo (the sandbox, over HTTP) land in QuickBooks (the stand-in with QODBC's
write rules, through real unixODBC) by ``run_sync``, once; they are marked posted in Halo; the books -> Halo
run reads them back without creating them again, and their QuickBooks payments flow to the Halo invoice.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from halo.sandbox.seed import SeedLine, halo_invoice
from sync.events import PostingPreviewed
from sync.state import TO_BOOKS
from tests.fixtures_sync import FAST_RETRY
from tests.standins import qodbc_writes
from tests.standins import quickbooks as standin


@pytest.fixture
def quickbooks(tmp_path, halo_sandbox, qodbc_rules):
    """Settings for the QuickBooks stand-in (read and written through the same DSN-less string) + sandbox."""
    from halo.client import HaloClient
    from sync.halo_connection import halo_connection
    from sync.paths import app_paths
    from sync.runner import run_sync
    from sync.secrets import HALO_CLIENT_SECRET, KeyringSecretStore
    from sync.settings import Settings

    path = tmp_path / "company.sqlite"
    connection_string = qodbc_writes.writable_connection_string(
        standin.build_quickbooks_company(path), qodbc_rules
    )
    settings = Settings()
    settings.halo.resource_server = halo_sandbox.url
    settings.halo.client_id = halo_sandbox.client_id
    settings.halo.requests_per_5_minutes = 0
    settings.source.kind = "quickbooks"
    settings.source.connection_string = connection_string
    settings.source.timezone = "America/Vancouver"
    secrets = KeyringSecretStore(allow_plaintext=True)
    secrets.set(HALO_CLIENT_SECRET, halo_sandbox.client_secret)
    paths = app_paths().ensure()
    secrets_store, app_paths_ = secrets, paths

    class QuickBooks:
        sandbox = halo_sandbox
        secrets = secrets_store
        paths = app_paths_

        def __init__(self) -> None:
            self.settings = settings
            self.events: list = []

        def run(self, **options):
            self.events = []
            client = HaloClient(halo_connection(settings.halo), halo_sandbox.client_secret, retry=FAST_RETRY)
            try:
                return run_sync(
                    settings, secrets, paths=paths, client=client, listener=self.events.append, **options
                )
            finally:
                client.close()

        def state(self):
            from sync.runner import open_state

            return open_state(paths)

        def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
            db = sqlite3.connect(path)
            try:
                return db.execute(sql, params).fetchall()
            finally:
                db.close()

    return QuickBooks()


def _linked(state, entity: str) -> tuple[str, int]:
    key, link = sorted(state.links(entity).items())[0]
    return key, link.halo_id


def test_halo_invoices_land_in_quickbooks_once_and_never_come_back(quickbooks):
    first = quickbooks.run()  # books -> Halo: customers, items, tax codes linked
    assert first.status in ("ok", "partial"), first.error
    with quickbooks.state() as state:
        customer_key, client_id = _linked(state, "customers")
        item_links = {k: v.halo_id for k, v in state.links("items").items()}
        tax_links = {k: v.halo_id for k, v in state.links("tax_rates").items()}
    item_key = "S1" if "S1" in item_links else sorted(item_links)[0]  # a service item of the stand-in
    tax_key = "STC-G"  # GST 5 %
    invoices_in_halo = len(quickbooks.sandbox.records("Invoice"))
    ids = []
    for n in range(1, 4):
        line = SeedLine(
            f"Halo work {n}", n, 40.0, tax_rate=5, tax_id=tax_links[tax_key], item_id=item_links[item_key]
        )
        body = halo_invoice(client_id, f"HQ-{n}", date(2026, 5, n), [line], credit=n == 3)
        ids.append(int(quickbooks.sandbox.seed("Invoice", body)["id"]))

    waiting = halo_invoice(
        client_id, "HQ-W", date(2026, 5, 9), [line], requires_approval=True, approval_status=0
    )
    waiting_id = int(quickbooks.sandbox.seed("Invoice", waiting)["id"])
    quickbooks.settings.posting.enabled = True
    quickbooks.settings.posting.start_date = "2026-01-01"
    from sync.posting import preview  # the GUI's call: opens Halo, the writer and the state store itself

    shown = preview(quickbooks.settings, quickbooks.secrets, paths=quickbooks.paths)
    assert [(row.number, row.action, row.is_credit) for row in shown.rows] == [
        ("HQ-1", "post", False),
        ("HQ-2", "post", False),
        ("HQ-3", "post", True),
        ("HQ-W", "skipped", False),
    ]
    assert shown.totals() == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))  # 40+80-120, 5 % each
    with quickbooks.state() as state:
        assert state.postings() == []
    dry = quickbooks.run(dry_run=True)
    (listed,) = [e.preview for e in quickbooks.events if isinstance(e, PostingPreviewed)]
    assert [row.action for row in listed.rows] == ["post", "post", "post", "skipped"], listed.rows
    assert dry.counts["posting"]["created"] == 3
    assert quickbooks.rows("SELECT COUNT(*) FROM Invoice WHERE CustomFieldOther LIKE 'HALO-%'") == [(0,)]

    real = quickbooks.run()
    assert real.counts["posting"]["created"] == 3, [
        e for e in quickbooks.events if getattr(e, "outcome", "") == "failed"
    ]
    markers = Counter(
        row[0]
        for row in quickbooks.rows(
            "SELECT CustomFieldOther FROM Invoice WHERE CustomFieldOther LIKE 'HALO-%' UNION ALL "
            "SELECT CustomFieldOther FROM CreditMemo WHERE CustomFieldOther LIKE 'HALO-%'"
        )
    )
    assert markers == Counter({f"HALO-{ids[0]}": 1, f"HALO-{ids[1]}": 1, f"HALO-C{ids[2]}": 1})
    by_id = {r["id"]: r for r in quickbooks.sandbox.records("Invoice")}
    ref_numbers = dict(
        quickbooks.rows(
            "SELECT CustomFieldOther, RefNumber FROM Invoice WHERE CustomFieldOther LIKE 'HALO-%'"
        )
    )
    assert (
        by_id[ids[0]]["posted"] is True
        and by_id[ids[0]]["thirdpartyinvoicenumber"] == ref_numbers[f"HALO-{ids[0]}"]
    )

    (txn_id,) = quickbooks.rows("SELECT TxnID FROM Invoice WHERE CustomFieldOther=?", (f"HALO-{ids[0]}",))[0]
    standin.execute(
        quickbooks_path(quickbooks),
        "INSERT INTO ReceivePaymentLine (TxnID, TimeModified, CustomerRefListID, TxnDate, RefNumber, "
        "TotalAmount, PaymentMethodRefFullName, AppliedToTxnTxnID, AppliedToTxnTxnType, "
        "AppliedToTxnPaymentAmount, AppliedToTxnBalanceRemaining) VALUES ('RPH1', "
        "'2026-05-10T10:00:00-07:00', ?, '2026-05-10', 'CHQ 9', '40', 'Cheque', ?, 'Invoice', '40', '0')",
        (customer_key, txn_id),
    )
    again = quickbooks.run()
    assert again.counts["posting"]["created"] == 0
    # 3 posted and 1 waiting: none read back as new
    assert len(quickbooks.sandbox.records("Invoice")) == invoices_in_halo + 4
    payments = [p for p in quickbooks.sandbox.records("InvoicePayment") if p["invoice_id"] == ids[0]]
    assert [(p["amount"], p["thirdpartyid"]) for p in payments] == [(40, f"RPH1:{txn_id}")]
    with quickbooks.state() as state:
        skipped = [(s.entity, s.key) for s in state.skipped() if s.entity == "posting"]
        assert skipped == [("posting", str(waiting_id))]  # Problems > Skipped shows it with its reason
        assert state.link("invoices", txn_id, TO_BOOKS).halo_id == ids[0]
        assert state.link("invoices", txn_id) is None  # no books -> Halo link: never an update from the books


def quickbooks_path(quickbooks):
    text = quickbooks.settings.source.connection_string
    return next(part.split("=", 1)[1] for part in text.split(";") if part.startswith("Database="))


def test_a_halo_client_missing_from_quickbooks_is_created_linked_and_not_doubled(quickbooks):
    assert quickbooks.run().status in ("ok", "partial")
    with quickbooks.state() as state:
        item_id = state.links("items")["S1"].halo_id
        tax_id = state.links("tax_rates")["STC-G"].halo_id
    client_id = int(quickbooks.sandbox.seed("Client", {"name": "Halo Only Ltd"})["id"])
    line = SeedLine("Setup", 1, 200.0, tax_rate=5, tax_id=tax_id, item_id=item_id)
    first = int(
        quickbooks.sandbox.seed("Invoice", halo_invoice(client_id, "HN-1", date(2026, 6, 1), [line]))["id"]
    )
    quickbooks.settings.posting.enabled = True
    quickbooks.settings.posting.start_date = "2026-01-01"

    reported = quickbooks.run()
    assert reported.counts["posting"]["failed"] == 1
    assert quickbooks.rows("SELECT COUNT(*) FROM Customer WHERE Name='Halo Only Ltd'") == [(0,)]

    quickbooks.settings.posting.missing_customers = "create"
    created = quickbooks.run()
    assert created.counts["posting"]["created"] == 1 and created.counts["posting"]["failed"] == 0
    ((list_id,),) = quickbooks.rows("SELECT ListID FROM Customer WHERE Name='Halo Only Ltd'")
    assert quickbooks.rows(
        "SELECT CustomerRefListID FROM Invoice WHERE CustomFieldOther=?", (f"HALO-{first}",)
    ) == [(list_id,)]
    with quickbooks.state() as state:
        assert state.link("customers", list_id).halo_id == client_id  # the next books -> Halo run updates it
        assert state.problems("posting") == []
    second = halo_invoice(client_id, "HN-2", date(2026, 6, 2), [line])
    quickbooks.sandbox.seed("Invoice", second)
    again = quickbooks.run()
    assert again.counts["posting"]["created"] == 1
    assert quickbooks.rows("SELECT COUNT(*) FROM Customer WHERE Name='Halo Only Ltd'") == [(1,)]
    clients = [c for c in quickbooks.sandbox.records("Client") if c["name"] == "Halo Only Ltd"]
    assert [c["id"] for c in clients] == [client_id] and clients[0].get("accountsid") == list_id
