"""Name normalisation, the Halo index and tax matching: exact matches only, fuzzy ones only suggested."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.matching import HaloIndex, normalise_name, tax_matches


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Acme Ltd", "ACME Limited"),
        ("Acme Ltd", "acme, ltd."),
        ("Smith & Sons LLC", "Smith and Sons"),
        ("Café Nero", "Cafe Nero"),
        ("O'Brien Plumbing", "OBrien Plumbing"),
        ("O’Brien Plumbing Ltd", "OBRIEN PLUMBING"),
        ("  Müller   GmbH ", "muller"),
        ("Acme Co. Ltd", "Acme"),
        ("Straße Pty Ltd", "STRASSE"),
    ],
)
def test_same_company_names_normalise_alike(left, right):
    assert normalise_name(left) == normalise_name(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Acme Holdings", "Acme"),
        ("Acme North", "Acme South"),
        ("Smith & Sons", "Smith Sons"),
        ("The Company Store", "The Store"),
    ],
)
def test_different_companies_stay_different(left, right):
    assert normalise_name(left) != normalise_name(right)


def test_a_name_that_is_only_a_suffix_is_kept():
    assert normalise_name("Limited") == "limited"
    assert normalise_name("Co Ltd") == "co"
    assert normalise_name("") == ""
    assert normalise_name("!!!") == ""


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_normalise_name_is_idempotent_and_never_raises(text):
    once = normalise_name(text)
    assert normalise_name(once) == once
    assert once == once.strip()
    assert "  " not in once


def _clients() -> list[dict]:
    return [
        {"id": 1, "name": "ACME Limited", "accountsid": ""},
        {"id": 2, "name": "Acme Ltd", "accountsid": "OTHER01"},
        {"id": 3, "name": "Acme Holdings", "accountsid": None},
        {"id": 4, "name": "Brown & Co", "accountsid": " Brown01 "},
        {"id": 5, "name": "Café Nero"},
    ]


def test_by_key_is_trimmed_and_case_insensitive():
    index = HaloIndex(_clients())
    assert index.by_key("BROWN01")["id"] == 4
    assert index.by_key(" brown01")["id"] == 4
    assert index.by_key("nobody") is None
    assert index.by_key("") is None
    assert len(index) == 5


def test_by_name_never_offers_a_record_that_carries_another_key():
    index = HaloIndex(_clients())
    assert [r["id"] for r in index.by_name("acme, ltd.")] == [1]
    # With the source key that record already carries, it is a candidate too.
    assert [r["id"] for r in index.by_name("Acme", source_key="other01")] == [1, 2]
    assert index.by_name("Brown and Co") == []  # carries Brown01
    assert [r["id"] for r in index.by_name("Brown & Co", source_key="BROWN01")] == [4]
    assert [r["id"] for r in index.by_name("cafe nero")] == [5]


def test_suggestions_are_scored_sorted_and_respect_keys():
    index = HaloIndex(_clients())
    hits = index.suggestions("Acme Holding", min_score=60)
    ids = [record["id"] for record, _score in hits]
    assert ids[0] == 3
    assert 2 not in ids  # carries another key
    scores = [score for _record, score in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 100 for s in scores)
    assert index.suggestions("Zebra Logistics") == []
    assert len(index.suggestions("Acme", limit=1, min_score=0)) == 1


def test_adding_a_record_with_a_known_id_replaces_it():
    index = HaloIndex(_clients())
    index.add({"id": 1, "name": "Acme Renamed", "accountsid": "ACME01"})
    assert len(index) == 5
    assert index.by_name("Acme") == []
    assert index.by_key("acme01")["name"] == "Acme Renamed"
    assert [r["id"] for r, _ in index.suggestions("Acme Renamed", source_key="ACME01")] == [1]


def test_tax_index_uses_third_party_id():
    taxes = HaloIndex([{"id": 9, "name": "Standard", "third_party_id": "T1"}], key_field="third_party_id")
    assert taxes.by_key("t1")["id"] == 9


def test_tax_matches_need_same_code_and_rate():
    halo = [
        {"id": 1, "code": "T1", "value": 20.0, "name": "Standard"},
        {"id": 2, "code": "t1", "value": 17.5, "name": "Old standard"},
        {"id": 3, "code": "T0", "value": 0, "name": "Zero"},
        {"id": 4, "code": None, "value": 20, "name": "No code"},
        {"id": 5, "code": "T5", "value": None, "name": "No value"},
    ]
    assert [t["id"] for t in tax_matches("T1", Decimal("20.0000"), halo)] == [1]
    assert [t["id"] for t in tax_matches(" t1 ", Decimal("17.50"), halo)] == [2]
    assert [t["id"] for t in tax_matches("T0", Decimal("0"), halo)] == [3]
    assert tax_matches("T5", Decimal("5"), halo) == []
    assert tax_matches("T9", Decimal("0"), halo) == []
    assert tax_matches("", Decimal("20"), halo) == []


def test_suggestions_in_a_large_index_still_find_near_matches():
    from sync.matching import FULL_SCAN_LIMIT

    filler = [{"id": i, "name": f"Customer Number {i:05d} Services"} for i in range(1, FULL_SCAN_LIMIT * 3)]
    index = HaloIndex([*filler, {"id": 99999, "name": "Brightwater Dental Practice Ltd"}])
    assert len(index) > FULL_SCAN_LIMIT
    hits = index.suggestions("Brightwatr Dental Practise")
    assert hits and hits[0][0]["id"] == 99999 and hits[0][1] >= 80
    # A name made only of very common words still gets candidates (as a last resort).
    assert index.suggestions("Customer Number 00042 Service", limit=1)[0][0]["id"] == 42
    assert index.suggestions("Zebra Logistics") == []


_names = st.sampled_from(
    ["Acme Ltd", "ACME Limited", "acme", "Brown & Co", "Brown and Co", "Café", "Cafe Ltd"]
)
_keys = st.sampled_from(["", " ", "A1", "a1 ", "B2", None])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_names, _keys), max_size=12),
    _names,
    st.sampled_from(["", "A1", "B2", "C3"]),
)
def test_name_matches_and_suggestions_never_carry_another_key(records, name, source_key):
    index = HaloIndex([{"id": i + 1, "name": n, "accountsid": k} for i, (n, k) in enumerate(records)])
    wanted = source_key.strip().casefold()
    for record in index.by_name(name, source_key=source_key):
        carried = (record["accountsid"] or "").strip().casefold()
        assert carried in ("", wanted)
        assert normalise_name(record["name"]) == normalise_name(name)
    for record, score in index.suggestions(name, source_key=source_key, min_score=0, limit=20):
        assert (record["accountsid"] or "").strip().casefold() in ("", wanted)
        assert 0 <= score <= 100
