"""The quick paths in sync/answers.py decide as the plain rules do, on random answers.

Why: ``agrees`` and ``_same`` run for every record of every save answer, so they take short cuts (an echoed
value is equal without normalising; the first field naming another record ends the comparison). The
reference below is the rule as written in the module's docstrings, compared on random records.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync import answers
from sync.answers import PAYMENT_FIELDS, _same, agrees, halo_id, identity_fields
from sync.matching import normalise_key


def _present(value: object) -> bool:
    return value is not None and str(value).strip() != ""


def _reference_same(sent: object, answered: object) -> bool:
    if normalise_key(sent) == normalise_key(answered):
        return True
    try:
        return Decimal(str(sent).strip()) == Decimal(str(answered).strip())
    except (InvalidOperation, ValueError):
        return False


def _reference_agrees(resource: str, sent: dict[str, Any], answered: dict[str, Any]) -> bool | None:
    verdicts = [
        _reference_same(sent[name], answered[name])
        for name in identity_fields(resource)
        if _present(sent.get(name)) and _present(answered.get(name))
    ]
    keyless = not (_present(sent.get("thirdpartyid")) and _present(answered.get("thirdpartyid")))
    if resource == "InvoicePayment" and keyless and all(_present(answered.get(n)) for n in PAYMENT_FIELDS):
        verdicts.append(
            _reference_same(sent.get("invoice_id"), answered["invoice_id"])
            and _reference_same(sent.get("amount"), answered["amount"])
            and str(sent.get("date")).strip()[:10] == str(answered["date"]).strip()[:10]
        )
    return all(verdicts) if verdicts else None


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.sampled_from(["", " ", "7", " 7 ", "7.0", "acme", "ACME ", "Acme", "12.50", "12.5", "2026-01-02"]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-20, max_value=20),
)
_fields = ("id", "accountsid", "thirdpartyinvoicenumber", "client_id", "thirdpartyid", "invoice_id", "amount")
_records = st.dictionaries(st.sampled_from((*_fields, "date")), _values, max_size=6)
_resources = st.sampled_from(["Client", "Item", "Invoice", "InvoicePayment", "Tax", "Site", "Unknown"])


@settings(max_examples=1500, deadline=None)
@given(_resources, _records, _records)
def test_agrees_decides_as_the_plain_rule(
    resource: str, sent: dict[str, Any], answered: dict[str, Any]
) -> None:
    assert agrees(resource, sent, answered) == _reference_agrees(resource, sent, answered)


@settings(max_examples=1500, deadline=None)
@given(_values, _values)
def test_same_decides_as_the_plain_rule(sent: object, answered: object) -> None:
    assert _same(sent, answered) == _reference_same(sent, answered)


@settings(max_examples=500, deadline=None)
@given(_values)
def test_halo_id_is_a_positive_int_or_none(value: object) -> None:
    expected = None
    if not isinstance(value, bool) and value is not None:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = 0
        expected = number if number > 0 else None
    assert halo_id({"id": value}) == expected


def _reference_number(value: object) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return None if number.is_nan() else number


_key_texts = st.one_of(
    st.text(max_size=8),
    st.text(alphabet="0123456789.+-_eE ", max_size=8),
    st.sampled_from(
        ("inf", "Infinity", "-inf", "nan", "sNaN", "NaN1", "snan", "İnf", "١٢", "_1", "1_000", " 7 ", "C0001")
    ),
    st.sampled_from(("\u00a012", "e5", "E5", ".5", "x1", "N", "S", "i")),
)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(_key_texts, _values))
def test_number_decides_as_the_plain_rule(value: object) -> None:
    """A key's number: text no number starts with is answered before Decimal is asked; nothing else moves."""
    found, expected = answers._number(value), _reference_number(value)
    assert (found is None) == (expected is None)
    assert found == expected


_answer_keys = st.one_of(st.none(), _key_texts, _values)
_answered = st.fixed_dictionaries(
    {"id": st.one_of(st.none(), st.integers(-1, 5), st.sampled_from(["3", "x", True]))},
    optional={"accountsid": _answer_keys},
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_answered, max_size=8), _answer_keys, st.one_of(st.none(), st.integers(1, 5)))
def test_candidates_are_the_plain_union(
    answer: list[dict[str, Any]], key: object, wanted_id: int | None
) -> None:
    """A create's candidates: the answered records with an id whose key is it as a key or as a number,
    or that carry no key, in the answer's order; an update's: those of its id."""
    with_id = [index for index, record in enumerate(answer) if halo_id(record) is not None]
    if wanted_id is not None:
        expected = [index for index in with_id if halo_id(answer[index]) == wanted_id]
    elif not _present(key):
        expected = with_id
    else:
        number = _reference_number(key)
        expected = [
            index
            for index in with_id
            if not _present(answer[index].get("accountsid"))
            or normalise_key(answer[index]["accountsid"]) == normalise_key(key)
            or (number is not None and _reference_number(answer[index]["accountsid"]) == number)
        ]
    candidates = answers._Candidates("Client", answer)
    assert candidates.for_record({"accountsid": key}, wanted_id) == expected
