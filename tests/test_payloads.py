"""Payloads: every one passes Halo's published schema (the sandbox's validator), values and hash behave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from core.records import Address, Customer, Invoice, InvoiceLine, Item, Payment, Supplier, TaxRate
from halo import payloads
from halo.sandbox.schemas import RecordProblem, RecordValidator

WHEN = datetime(2024, 3, 1, 10, 15, tzinfo=timezone(timedelta(hours=1)))
CUSTOMER = Customer(
    key="OBRIEN01",
    name="O'Brien & Søns Ltd 🚀",
    email="accounts@obrien.example",
    phone="+44 20 7946 0000",
    tax_code="T1",
    tax_number="GB123456789",
    address=Address(
        lines=("1 High St", "Unit 2", "Industrial Est", "Block C"), city="Leeds", postcode="LS1 1AA"
    ),
    website="https://obrien.example",
)


def valid(resource: str, record: dict) -> None:
    RecordValidator(resource).check(0, record)


def test_each_payload_passes_halo_schema():
    valid("Tax", payloads.tax_payload(TaxRate("T1", "T1", "Standard rate", Decimal("20.0000"))))
    valid("Client", payloads.client_payload(CUSTOMER, tax_id=3, inactive=False, toplevel_id=2))
    valid("Site", payloads.site_payload(CUSTOMER, site_id=5, client_id=4, inactive=True))
    item = Item("SKU1", "SKU1", "Widget", "A widget", Decimal("19.99"), Decimal("7.5"), "T1", "4000", "5000")
    valid("Item", payloads.item_payload(item, tax_id=3))
    line = InvoiceLine(
        1,
        "Widget",
        Decimal("2"),
        Decimal("19.99"),
        Decimal("39.98"),
        Decimal("8.00"),
        "SKU1",
        "T1",
        Decimal("20"),
        "4000",
    )
    lines = [
        payloads.line_payload(line, is_credit=False, item_code="SKU1", item_id=9, tax_code="T1", tax_id=3)
    ]
    invoice = Invoice(
        "INV-1",
        "1",
        "OBRIEN01",
        WHEN,
        (line,),
        Decimal("39.98"),
        Decimal("8.00"),
        Decimal("47.98"),
        due_date=WHEN + timedelta(days=30),
        amount_paid=Decimal("10"),
        paid_date=WHEN,
        reference="PO7",
    )
    valid("Invoice", payloads.invoice_payload(invoice, client_id=4, lines=lines))
    payment = Payment("P1", "INV-1", "OBRIEN01", WHEN, Decimal("10.00"), reference="BACS")
    valid(
        "InvoicePayment", payloads.payment_payload(payment, invoice_id=1, client_id=4, source_kind="sage50uk")
    )


def test_validator_really_refuses_a_wrong_field():
    with pytest.raises(RecordProblem):
        valid("Item", {"name": "x", "inactive": True})  # Halo's Item has no inactive field


def test_money_is_exact_and_dates_keep_offset():
    item = Item("SKU1", "SKU1", "Widget", price=Decimal("19.99"), cost=Decimal("0.10"))
    body = payloads.item_payload(item, tax_id=None)
    assert body["baseprice"] == 19.99 and repr(body["baseprice"]) == "19.99"
    assert body["costprice"] == 0.1 and "taxcode" not in body
    assert payloads.number(Decimal("20.0000")) == 20 and isinstance(payloads.number(Decimal("20.0000")), int)
    payment = Payment("P1", "I", "C", WHEN, Decimal("5"))
    assert payloads.payment_payload(payment, invoice_id=1, client_id=2, source_kind="quickbooks")["date"] == (
        "2024-03-01T10:15:00+01:00"
    )
    with pytest.raises(ValueError):
        payloads.timestamp(datetime(2024, 1, 1))


def test_credit_note_is_negative():
    line = InvoiceLine(1, "Refund", Decimal("1"), Decimal("10"), Decimal("10"), Decimal("2"))
    credit = Invoice(
        "CN-1", "CN1", "C", WHEN, (line,), Decimal("10"), Decimal("2"), Decimal("12"), is_credit=True
    )
    lines = [
        payloads.line_payload(line, is_credit=True, item_code="", item_id=None, tax_code="", tax_id=None)
    ]
    body = payloads.invoice_payload(credit, client_id=1, lines=lines)
    assert (
        body["total"] == -12 and body["lines"][0]["net_amount"] == -10 and body["lines"][0]["qty_order"] == -1
    )
    assert body["lines"][0]["unit_price"] == 10


def test_address_overflow_is_joined_into_line4():
    body = payloads.address_payload(CUSTOMER.address)
    assert body == {
        "line1": "1 High St",
        "line2": "Unit 2",
        "line3": "Industrial Est",
        "line4": "Block C, Leeds",
        "postcode": "LS1 1AA",
    }


def test_hash_ignores_ids_but_sees_content():
    first = payloads.site_payload(CUSTOMER, site_id=5, client_id=4)
    moved = payloads.site_payload(CUSTOMER, site_id=6, client_id=4)
    assert payloads.content_hash(first) == payloads.content_hash(moved)
    changed = payloads.site_payload(
        Customer(key=CUSTOMER.key, name=CUSTOMER.name, phone="0113 000"), site_id=5, client_id=4
    )
    assert payloads.content_hash(first) != payloads.content_hash(changed)
    assert payloads.content_hash({"a": 1, "b": 2}) == payloads.content_hash({"b": 2, "a": 1})


def test_toplevel_only_when_asked_and_sage_reference_only_for_sage():
    assert "toplevel_id" not in payloads.client_payload(CUSTOMER, tax_id=None)
    assert "inactive" not in payloads.client_payload(CUSTOMER, tax_id=None)
    payment = Payment("P1", "I", "C", datetime(2024, 1, 1, tzinfo=UTC), Decimal("5"), reference="")
    assert (
        payloads.payment_payload(payment, invoice_id=1, client_id=2, source_kind="demo")["sage50_reference"]
        == "P1"
    )
    assert "sage50_reference" not in payloads.payment_payload(
        payment, invoice_id=1, client_id=2, source_kind="odbc"
    )


def test_supplier_payload_passes_the_company_schema_and_keeps_blanks_out():
    supplier = Supplier(
        key="PAPER01",
        name="Paper Supplies Ltd",
        email="orders@paper.example",
        phone="0113 000",
        contact_name="Ann Lee",
        website="https://paper.example",
        address=Address(lines=("1 Mill Lane", ""), city="Leeds", postcode="LS1 1AA", country="UK"),
    )
    payload = payloads.supplier_payload(supplier, tax_id=3, inactive=True)
    valid("Supplier", payload)
    assert payload == {
        "name": "Paper Supplies Ltd",
        "accounts_id": "PAPER01",
        "email_address": "orders@paper.example",
        "phone_number": "0113 000",
        "contact_name": "Ann Lee",
        "website": "https://paper.example",
        "address": "1 Mill Lane\nLeeds\nLS1 1AA\nUK",
        "purchase_tax_code": 3,
        "inactive": True,
    }
    bare = payloads.supplier_payload(Supplier(key="INK01", name="Ink"), tax_id=None)
    valid("Supplier", bare)
    assert bare == {"name": "Ink", "accounts_id": "INK01"}  # inactive None: Halo's flag is left alone
