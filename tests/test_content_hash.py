"""The content hash: today's values are pinned, and the fast road (msgspec) and json.dumps' agree everywhere.

Why: every installation keeps, in its links, the hash of what it last sent; a hash that changed its value
with an upgrade would re-send every record once. The values below were computed by the json.dumps hash
this project shipped before msgspec took over the common case.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.records import Address, Customer, Invoice, InvoiceLine, Item, Payment, TaxRate
from halo import payloads
from sync.state import StateStore

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
LINE = InvoiceLine(
    1,
    'Widget "deluxe"\tß',
    Decimal("2"),
    Decimal("19.99"),
    Decimal("39.98"),
    Decimal("8.00"),
    "SKU1",
    "T1",
    Decimal("20"),
    "4000",
)
# A unit price json.dumps writes as 5e-05: msgspec would write 0.00005, so this payload takes json's road.
TINY = InvoiceLine(
    2,
    "Screws",
    Decimal("10000"),
    Decimal("0.00005"),
    Decimal("0.5"),
    Decimal("0.1"),
    "SCR",
    "T1",
    Decimal("20"),
    "4000",
)


def _lines(*lines: InvoiceLine) -> list[dict[str, Any]]:
    return [
        payloads.line_payload(
            line, is_credit=False, item_code=line.item_key, item_id=8 + line.number, tax_code="T1", tax_id=3
        )
        for line in lines
    ]


def known_payloads() -> dict[str, dict[str, Any]]:
    invoice = Invoice(
        "INV-1",
        "1",
        "OBRIEN01",
        WHEN,
        (LINE, TINY),
        Decimal("40.48"),
        Decimal("8.10"),
        Decimal("48.58"),
        due_date=WHEN + timedelta(days=30),
        amount_paid=Decimal("10"),
        paid_date=WHEN,
        reference="PO7",
    )
    plain = Invoice(
        "INV-2",
        "2",
        "OBRIEN01",
        WHEN,
        (LINE,),
        Decimal("39.98"),
        Decimal("8.00"),
        Decimal("47.98"),
        reference="PO8",
        currency="EUR",
    )
    item = Item("SKU1", "SKU1", "Widget", "A widget", Decimal("19.99"), Decimal("7.5"), "T1", "4000", "5000")
    payment = Payment("P1", "INV-1", "OBRIEN01", WHEN, Decimal("10.00"), reference="BACS")
    return {
        "tax": payloads.tax_payload(TaxRate("T1", "T1", "Standard rate", Decimal("20.0000"))),
        "client": payloads.client_payload(CUSTOMER, tax_id=3, inactive=False),
        "site": payloads.site_payload(CUSTOMER, site_id=5, client_id=4, inactive=True),
        "item": payloads.item_payload(item, tax_id=3),
        "invoice with a tiny price": payloads.invoice_payload(invoice, client_id=4, lines=_lines(LINE, TINY)),
        "invoice": payloads.invoice_payload(plain, client_id=4, lines=_lines(LINE)),
        "payment": payloads.payment_payload(payment, invoice_id=1, client_id=4, source_kind="sage50uk"),
    }


# Computed with the json.dumps content hash before this change (git show 647fc9f:halo/payloads.py).
PINNED = {
    "tax": "f7596188edead525c2167fc0aed1649e9d02c758eb6d10118568fa43ce1b94c1",
    "client": "6afaedea93a2d3a85bedba7baa8d7a95543b59c4591fee9278c53bcef25524f8",
    "site": "dc8f1722a187bfa3b2bf1ca637c3f65f006df53e662a822129ac9522701095ef",
    "item": "b63b6074a23826929c620e87e4843896b8f958305afe6fd09d25e59644d53097",
    "invoice with a tiny price": "9ebd22ac60c3130469a09b79f2d1c6aba8759c9938eb2962608414ad72127e55",
    "invoice": "fb2f44f9831ad97eb3ef6809591ba7a40410c147df9dedc18cb0cec1b0a6d3c6",
    "payment": "a23ef99821e4275b224e201fafb409f47035ac1593e293515967eb6082b05941",
}


def json_dumps_hash(payload: Mapping[str, Any]) -> str:
    """The hash as the project first defined it: sha256 of json.dumps of the payload without ids."""

    def without_ids(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: without_ids(v) for k, v in value.items() if k != "id"}
        if isinstance(value, list | tuple):
            return [without_ids(v) for v in value]
        return value

    text = json.dumps(without_ids(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_hash_of_a_known_payload_is_the_one_installations_stored(name):
    payload = known_payloads()[name]
    assert payloads.content_hash(payload) == PINNED[name]
    assert json_dumps_hash(payload) == PINNED[name]


def test_money_payloads_take_the_fast_road():
    """The speed is real only if ordinary payloads are plain: msgspec's bytes are json.dumps' bytes."""
    import msgspec

    for name, payload in known_payloads().items():
        if name == "invoice with a tiny price":
            continue
        encoded = msgspec.json.encode(payload, order="sorted")
        plain = {k: v for k, v in payload.items() if k != "id"}
        assert (
            encoded == json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        )
        assert (
            payloads.content_hash(payload)
            == hashlib.sha256(msgspec.json.encode(plain, order="sorted")).hexdigest()
        )


def test_what_json_refuses_is_still_refused():
    with pytest.raises(TypeError):
        payloads.content_hash({"amount": Decimal("1.50")})  # json.dumps never took a Decimal
    with pytest.raises(UnicodeEncodeError):
        payloads.content_hash({"name": "half a pair \ud800"})


def test_ids_at_any_depth_are_left_out_and_key_order_does_not_matter():
    nested = {"id": 1, "name": "A", "lines": [{"id": 7, "qty": 1}], "address": {"id": 3, "line1": "x"}}
    moved = {"address": {"line1": "x", "id": 30}, "lines": ({"qty": 1, "id": 70},), "name": "A", "id": 2}
    assert payloads.content_hash(nested) == payloads.content_hash(moved) == json_dumps_hash(nested)


floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [1e-05, 5e-05, 1e16, 1e-4, 9999999999999998.0, -0.0, 0.0, 2.5e-7, 1.5e300]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | floats
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
)
keys = st.sampled_from(["id", "name", "Name", "é", "😀", "_itemid", "a", "z"]) | st.text(max_size=4).filter(
    lambda text: not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, max_size=8))
def test_both_roads_give_json_dumps_hash_for_any_json_value(payload):
    assert payloads.content_hash(payload) == json_dumps_hash(payload)


def test_an_upgrade_from_the_json_dumps_hash_resends_nothing(sage_company, monkeypatch):
    """Links written by the old hash (the whole first sync hashed by json.dumps), then a full re-read with
    today's: every record is unchanged, no write reaches Halo."""
    with monkeypatch.context() as patched:
        patched.setattr(payloads, "content_hash", json_dumps_hash)
        first = sage_company.run()
    assert first.status in ("ok", "partial"), first.error
    with StateStore(sage_company.paths.state_file) as state:
        for entity in ("tax_rates", "customers", "items", "invoices"):
            state.save_cursor(entity, None)
    posts = sage_company.posts()
    again = sage_company.run()
    assert sage_company.posts() == posts
    assert again.total("created") == again.total("updated") == again.total("deactivated") == 0
    assert again.total("unchanged") >= first.total("created")
