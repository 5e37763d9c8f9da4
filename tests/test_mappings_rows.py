"""Mapping rows follow the engine's matching order; fuzzy matches are only ever suggestions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.records import Customer, TaxRate
from sync.mappings import (
    MappingService,
    MappingSnapshot,
    Suggestion,
    TaxMappingRow,
    changes_to_confirm,
    customer_rows,
    percent,
    tax_rows,
)
from sync.matching import HaloIndex
from sync.secrets import MemorySecretStore
from sync.settings import Settings
from sync.state import StateStore


@pytest.fixture
def state(tmp_path):
    store = StateStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


def _clients() -> HaloIndex:
    return HaloIndex(
        [
            {"id": 10, "name": "Acme Limited", "accountsid": ""},
            {"id": 11, "name": "Brown & Sons", "accountsid": "BROWN01"},
            {"id": 12, "name": "Café Nero", "accountsid": None},
            {"id": 13, "name": "Delta Services Ltd"},
            {"id": 14, "name": "Twin Ltd"},
            {"id": 15, "name": "TWIN Limited"},
            {"id": 16, "name": "Taken Ltd", "accountsid": "SOMEONE"},
            {"id": 17, "name": "Linked Old Name"},
            {"id": 18, "name": "Hand Picked"},
        ]
    )


def test_customer_rows_follow_the_engine_order(state):
    state.save_link("customers", "LINK01", 17, "hash")
    state.set_mapping("customer", "MAP01", 18)
    customers = [
        Customer("LINK01", "Linked Renamed"),
        Customer("BROWN01", "Brown and Sons Ltd"),
        Customer("MAP01", "Something Else"),
        Customer("ACME01", "ACME Ltd"),
        Customer("CAFE01", "Cafe Nero"),
        Customer("TWIN01", "Twin"),
        Customer("TAKEN01", "Taken"),
        Customer("DELTA01", "Delta Service"),
        Customer("ZED01", "Zebra Logistics"),
    ]
    rows = {row.source_key: row for row in customer_rows(customers, _clients(), state)}
    assert (rows["LINK01"].state, rows["LINK01"].halo_id, rows["LINK01"].halo_name) == (
        "linked",
        17,
        "Linked Old Name",
    )
    assert (rows["BROWN01"].state, rows["BROWN01"].halo_id) == ("accountsid", 11)
    assert (rows["MAP01"].state, rows["MAP01"].halo_id, rows["MAP01"].halo_name) == (
        "mapped",
        18,
        "Hand Picked",
    )
    assert (rows["ACME01"].state, rows["ACME01"].halo_id) == ("exact", 10)
    assert (rows["CAFE01"].state, rows["CAFE01"].halo_id) == ("exact", 12)
    # Two Halo clients with the same normalised name: the user must choose; both offered at 100.
    twin = rows["TWIN01"]
    assert twin.state == "suggested" and twin.halo_id is None
    assert {s.halo_id for s in twin.suggestions if s.score == 100.0} == {14, 15}
    # A same-name client that carries another key is never a match, nor a suggestion.
    taken = rows["TAKEN01"]
    assert taken.halo_id is None and 16 not in {s.halo_id for s in taken.suggestions}
    delta = rows["DELTA01"]
    assert delta.state == "suggested" and delta.halo_id is None
    assert delta.suggestions[0].halo_id == 13 and 80 <= delta.suggestions[0].score < 100
    assert rows["ZED01"].state == "unmatched" and rows["ZED01"].suggestions == ()


def test_a_halo_client_is_offered_to_one_customer_only(state):
    clients = HaloIndex(
        [
            {"id": 1, "name": "Acme Ltd"},
            {"id": 2, "name": "Brown Bakery"},
            {"id": 3, "name": "Cole Carpets Ltd"},
        ]
    )
    state.set_mapping("customer", "HAND01", 2)
    customers = [
        Customer("ACME01", "ACME Limited"),  # two accounts in the books with the same normalised name
        Customer("ACME02", "Acme Ltd."),
        Customer("HAND01", "Something Else"),
        Customer("BROWN01", "Brown Bakery"),  # its exact namesake is already taken by HAND01's mapping
        Customer("COLE01", "Cole Carpets"),
    ]
    rows = {row.source_key: row for row in customer_rows(customers, clients, state)}
    for key in ("ACME01", "ACME02"):
        assert rows[key].state == "suggested" and rows[key].halo_id is None
        assert rows[key].suggestions[0] == Suggestion(1, "Acme Ltd", 100.0)
    assert rows["BROWN01"].state == "unmatched" and rows["BROWN01"].suggestions == ()
    assert (rows["COLE01"].state, rows["COLE01"].halo_id) == ("exact", 3)
    assert [row.source_key for row in customer_rows(customers, clients, state)] == [c.key for c in customers]


def test_link_to_a_client_halo_no_longer_has_says_so(state):
    state.save_link("customers", "GONE01", 999, "hash")
    (row,) = customer_rows([Customer("GONE01", "Gone")], _clients(), state)
    assert row.state == "linked" and row.halo_id == 999 and "not found" in row.halo_name


def test_tax_rows(state):
    halo_taxes = [
        {"id": 1, "name": "Standard", "code": "T1", "value": 20.0},
        {"id": 2, "name": "Zero", "code": "T0", "value": 0.0},
        {"id": 3, "name": "Reduced", "code": "T5", "value": 5.0, "third_party_id": "T5"},
        {"id": 4, "name": "Exempt A", "code": "T2", "value": 0.0},
        {"id": 5, "name": "Exempt B", "code": "t2", "value": 0.0},
        {"id": 6, "name": "Old", "code": "T9", "value": 17.5},
    ]
    state.save_link("tax_rates", "T0", 2, "hash")
    state.set_mapping("tax", "T7", 6)
    rates = [
        TaxRate("T0", "T0", "Zero rated", Decimal("0.0000")),
        TaxRate("T1", "T1", "Standard rate", Decimal("20.0000")),
        TaxRate("T5", "T5", "Lower rate", Decimal("5.0000")),
        TaxRate("T2", "T2", "Exempt", Decimal("0.0000")),
        TaxRate("T7", "T7", "Mapped by hand", Decimal("0")),
        TaxRate("T9", "T9", "Not the same rate", Decimal("0")),
    ]
    rows = {row.source_key: row for row in tax_rows(rates, halo_taxes, state)}
    assert (rows["T0"].state, rows["T0"].halo_id) == ("linked", 2)
    assert (rows["T1"].state, rows["T1"].halo_id, rows["T1"].halo_name) == ("auto", 1, "Standard (T1, 20%)")
    assert (rows["T5"].state, rows["T5"].halo_id) == ("auto", 3)
    assert (rows["T2"].state, rows["T2"].halo_id) == ("unmapped", None)  # two candidates: ambiguous
    assert (rows["T7"].state, rows["T7"].halo_id) == ("mapped", 6)
    assert (rows["T9"].state, rows["T9"].halo_id) == ("unmapped", None)


def test_generate_saves_only_exact_rows_and_setters_validate(state):
    rows = customer_rows(
        [Customer("ACME01", "ACME Ltd"), Customer("DELTA01", "Delta Service"), Customer("BROWN01", "Brown")],
        _clients(),
        state,
    )
    snapshot = MappingSnapshot(tuple(rows), (), (), ())
    assert (snapshot.matched, snapshot.unmatched) == (2, 1)
    service = MappingService(Settings(), MemorySecretStore(), state)
    assert service.generate_customer_mappings(snapshot) == 1
    assert state.mappings("customer") == {"ACME01": 10}
    service.set_customer_mapping("DELTA01", 13)
    service.set_tax_mapping("T1", 1)
    assert state.mapping("customer", "DELTA01") == 13 and state.mapping("tax", "T1") == 1
    service.set_customer_mapping("DELTA01", None)
    assert state.mapping("customer", "DELTA01") is None
    with pytest.raises(ValueError):
        service.set_customer_mapping("", 3)
    with pytest.raises(ValueError):
        service.set_tax_mapping("T1", 0)


def test_save_changes_checks_every_choice_before_writing_any(state):
    service = MappingService(Settings(), MemorySecretStore(), state)
    assert service.save_changes({"ACME01": 10, "DELTA01": None}, {"T1": 1}) == 3
    assert state.mappings("customer") == {"ACME01": 10} and state.mappings("tax") == {"T1": 1}
    with pytest.raises(ValueError):
        service.save_changes({"BROWN01": 12}, {"T5": 0})  # one bad id: nothing of the batch is written
    assert "BROWN01" not in state.mappings("customer")


def test_changes_to_confirm_name_another_rate_and_a_customer_leaving_its_client(state):
    customers = tuple(
        customer_rows([Customer("ACME01", "ACME Ltd"), Customer("BROWN01", "Brown")], _clients(), state)
    )
    taxes = (
        TaxMappingRow("T1", "T1", "Standard rate", Decimal("20.0000"), None, "", "unmapped"),
        TaxMappingRow("T5", "T5", "Reduced rate", Decimal("5"), None, "", "unmapped"),
    )
    snapshot = MappingSnapshot(
        customers,
        taxes,
        (),
        ((1, "Zero rated (T0, 0%)"), (2, "VAT 20 (T1, 20%)")),
        ((1, Decimal("0")), (2, Decimal("20.00"))),
    )
    assert changes_to_confirm(snapshot, {}, {"T1": 2}) == []  # same rate: nothing to ask
    [rate] = changes_to_confirm(snapshot, {}, {"T1": 1})
    assert "T1" in rate and "20% in the books" in rate and "0% tax" in rate  # rates as people write them
    [kept] = changes_to_confirm(snapshot, {"BROWN01": None}, {})  # matched by its key: no mapping moves it
    assert "stays with the Halo client Brown & Sons" in kept and "account reference" in kept
    state.set_mapping("customer", "ACME01", 12)
    mapped = tuple(customer_rows([Customer("ACME01", "ACME Ltd")], _clients(), state))
    snapshot = MappingSnapshot(mapped, taxes, (), snapshot.halo_taxes, snapshot.halo_tax_rates)
    [leaving] = changes_to_confirm(snapshot, {"ACME01": None}, {"T5": 1})[1:]
    assert "ACME01" in leaving and "no longer go to the Halo client Café Nero" in leaving
    assert "new Halo client" in leaving
    assert percent(Decimal("17.500")) == "17.5%" and percent(Decimal("20.0000")) == "20%"
