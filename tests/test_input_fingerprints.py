"""Unchanged invoices and payments are not rebuilt: their inputs' fingerprint is kept with the content hash.

Why (issue 16): on a full re-read most records are unchanged, and building their payloads only to find the
content hash unchanged was most of the engine's work. These tests hold the rule that makes skipping safe:
any change of the record, or of the Halo ids and labels its payload takes, is sent; links saved before
fingerprints are upgraded without a write to Halo; and the payload builders' output is pinned to
PAYLOAD_VERSION, so a builder that changes without a new version fails here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.records import Invoice, InvoiceLine, Payment
from halo import payloads

WHEN = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
LINE = InvoiceLine(
    1, "Widget", Decimal("2.0000"), Decimal("9.99"), Decimal("19.98"), Decimal("4.00"), "W1", "T1"
)
PAYMENT = Payment("U1", "1001", "ACME", WHEN, Decimal("23.98"), "Receipt", "BACS")
INVOICE = Invoice(
    "1001",
    "1001",
    "ACME",
    WHEN,
    (LINE,),
    Decimal("19.98"),
    Decimal("4.00"),
    Decimal("23.98"),
    due_date=WHEN,
    amount_paid=Decimal("23.98"),
    outstanding=Decimal("0.00"),
    paid_date=WHEN,
    reference="PO-7",
    payments=(PAYMENT,),
    modified=WHEN,
)
# The payload builders' output for the records above, as content hashes, at this PAYLOAD_VERSION.
PINNED = {
    "line": "6e7e59917fbb0f140a80ebb8cfe1d139f6a2fd3aff50939d034c953612892c77",
    "credit line": "1637a3b9e20eca44f66a1c25658cc7539cf553405ad179bebbdc0266ad95f20d",
    "invoice": "3a45f44c0e252289db2fa3dc8f750f5ccdba4e3cdd2102bb373c17f024210e21",
    "payment": "3306ff6fbd8fbd4bd1c2be82be0a8cefb59fef03f4e7b12a5d26fa423f4cc8ec",
}


def _builders_output() -> dict[str, str]:
    line = payloads.line_payload(LINE, is_credit=False, item_code="W1", item_id=5, tax_code="T1", tax_id=3)
    credit = payloads.line_payload(LINE, is_credit=True, item_code="W1", item_id=5, tax_code="T1", tax_id=3)
    invoice = payloads.invoice_payload(INVOICE, client_id=7, lines=[line])
    payment = payloads.payment_payload(PAYMENT, invoice_id=11, client_id=7, source_kind="sage50uk")
    return {
        "line": payloads.content_hash(line),
        "credit line": payloads.content_hash(credit),
        "invoice": payloads.content_hash(invoice),
        "payment": payloads.content_hash(payment),
    }


def test_the_payload_builders_are_pinned_to_their_version() -> None:
    assert (payloads.PAYLOAD_VERSION, _builders_output()) == (1, PINNED), (
        "A payload builder sends something else for the same inputs: bump halo.payloads.PAYLOAD_VERSION "
        "(links keep fingerprints of the old builders) and pin the new hashes here."
    )


BASE = ("invoice", INVOICE, 7, [(5, "T1", 3)])


@pytest.mark.parametrize(
    "changed",
    [
        ("invoice", replace(INVOICE, reference="PO-8"), 7, [(5, "T1", 3)]),
        ("invoice", replace(INVOICE, lines=(replace(LINE, net=Decimal("19.97")),)), 7, [(5, "T1", 3)]),
        ("invoice", replace(INVOICE, payments=()), 7, [(5, "T1", 3)]),
        ("invoice", replace(INVOICE, modified=None), 7, [(5, "T1", 3)]),
        ("invoice", INVOICE, 8, [(5, "T1", 3)]),  # its customer is another Halo client now
        ("invoice", INVOICE, 7, [(6, "T1", 3)]),  # a line's item is another Halo item
        ("invoice", INVOICE, 7, [(None, "T1", 3)]),  # ... or none
        ("invoice", INVOICE, 7, [(5, "T2", 3)]),  # a line's tax code reads otherwise
        ("invoice", INVOICE, 7, [(5, "T1", 4)]),  # the tax code is mapped to another Halo tax
        ("payment", INVOICE, 7, [(5, "T1", 3)]),  # another kind of record with the same inputs
    ],
)
def test_any_change_of_an_input_changes_the_fingerprint(changed: tuple[object, ...]) -> None:
    assert payloads.fingerprint(*changed) != payloads.fingerprint(*BASE)
    assert payloads.fingerprint(*BASE) == payloads.fingerprint(*BASE)


def test_inputs_msgspec_cannot_write_give_no_fingerprint() -> None:
    assert payloads.fingerprint("invoice", object()) == ""


def test_a_stored_hash_splits_into_content_and_inputs() -> None:
    assert payloads.split_stored_hash(payloads.stored_hash("abc", "def")) == ("abc", "def")
    assert payloads.split_stored_hash("abc") == ("abc", "")  # a link saved before fingerprints
    assert payloads.split_stored_hash("") == ("", "")  # "Sync this record again" cleared it
    assert payloads.stored_hash("abc", "") == "abc"


def _posts(company) -> int:
    return sum(company.posts().values())


def _clear_cursors(company) -> None:
    with company.state() as state:
        for entity in ("tax_rates", "customers", "items", "invoices"):
            state.save_cursor(entity, None)


def _count_builds(monkeypatch) -> dict[str, int]:
    built = {"invoice": 0, "payment": 0}
    invoice_payload, payment_payload = payloads.invoice_payload, payloads.payment_payload

    def counted_invoice(*args, **kwargs):  # type: ignore[no-untyped-def]
        built["invoice"] += 1
        return invoice_payload(*args, **kwargs)

    def counted_payment(*args, **kwargs):  # type: ignore[no-untyped-def]
        built["payment"] += 1
        return payment_payload(*args, **kwargs)

    monkeypatch.setattr(payloads, "invoice_payload", counted_invoice)
    monkeypatch.setattr(payloads, "payment_payload", counted_payment)
    return built


def test_a_full_re_read_builds_no_payload_for_an_unchanged_invoice_and_sends_a_changed_one(
    sage_company, monkeypatch
) -> None:
    """Through real unixODBC: the books change without a new modified date (a full re-read finds it)."""
    sage_company.run()
    posts = _posts(sage_company)
    built = _count_builds(monkeypatch)
    _clear_cursors(sage_company)
    again = sage_company.run()
    assert again.counts["invoices"]["unchanged"] > 0 and again.counts["payments"]["unchanged"] > 0
    assert built == {"invoice": 0, "payment": 0}
    assert _posts(sage_company) == posts
    with sqlite3.connect(sage_company.path) as books:
        number = books.execute(
            'SELECT MIN("INVOICE_NUMBER") FROM "INVOICE" WHERE "CUST_ORDER_NUMBER" IS NOT NULL'
        ).fetchone()[0]
        books.execute(
            'UPDATE "INVOICE" SET "CUST_ORDER_NUMBER"=\'PO-CHANGED\' WHERE "INVOICE_NUMBER"=?', (number,)
        )
    _clear_cursors(sage_company)
    changed = sage_company.run()
    assert built["invoice"] == 1 and changed.counts["invoices"]["updated"] == 1
    sent = [r for r in sage_company.sandbox.records("Invoice") if r.get("accountsid") == str(number)]
    assert [r.get("reference") for r in sent] == ["PO-CHANGED"]


def test_links_saved_before_fingerprints_get_them_without_a_write_to_halo(sage_company, monkeypatch) -> None:
    sage_company.run()
    posts = _posts(sage_company)
    with sqlite3.connect(sage_company.paths.state_file) as state:
        state.execute(
            "UPDATE links SET content_hash=substr(content_hash, 1, instr(content_hash, '/') - 1) "
            "WHERE instr(content_hash, '/') > 0"
        )
        assert state.execute("SELECT COUNT(*) FROM links WHERE content_hash LIKE '%/%'").fetchone()[0] == 0
    built = _count_builds(monkeypatch)
    _clear_cursors(sage_company)
    upgraded = sage_company.run()
    assert built["invoice"] == upgraded.counts["invoices"]["unchanged"] > 0  # built once to compare
    assert _posts(sage_company) == posts  # nothing sent
    with sqlite3.connect(sage_company.paths.state_file) as state:
        kept = state.execute(
            "SELECT COUNT(*) FROM links WHERE entity IN ('invoices', 'payments') AND content_hash LIKE '%/%'"
        ).fetchone()[0]
    assert kept == upgraded.counts["invoices"]["unchanged"] + upgraded.counts["payments"]["unchanged"]
    built["invoice"] = built["payment"] = 0
    _clear_cursors(sage_company)
    sage_company.run()
    assert built == {"invoice": 0, "payment": 0}


def test_sync_this_record_again_rebuilds_and_resends_it(sage_company) -> None:
    sage_company.run()
    with sage_company.state() as state:
        key = sorted(state.links("invoices"))[0]
        state.resync_record("invoices", key)
    again = sage_company.run()
    assert again.counts["invoices"]["updated"] == 1
