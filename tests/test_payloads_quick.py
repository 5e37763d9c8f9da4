"""The quick paths in halo/payloads.py give what the plain rules give, on random values.

Why: ``number`` takes the float of an amount first and ``content_hash`` writes a payload without ids as it
is, without copying it; both run for every line of every record sent, and both must answer exactly as
the rule written in their docstrings does (a changed content hash re-sends everything once).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal, localcontext
from types import MappingProxyType
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from halo import payloads
from tests.test_content_hash import json_dumps_hash


def _plain_number(value: Decimal) -> float | int:
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(str(value))


def _outcome(function: Any, *args: Any) -> tuple[str, object]:
    """What a call gives: its value's type and repr (1 and 1.0 differ), or the exception's type."""
    try:
        value = function(*args)
    except Exception as exc:  # the kind of failure is what is compared
        return ("raises", type(exc))
    return (type(value).__name__, repr(value))


_SPELLINGS = ("1", "1.0", "1.00", "-0", "0", "12.50", "12.5", "1E+2", "9007199254740992", "0.00001", "NaN")
decimals = st.decimals(allow_nan=True, allow_infinity=True, places=None) | st.sampled_from(
    [Decimal(text) for text in (*_SPELLINGS, "sNaN", "-Infinity")]
    + [Decimal(2**53 - 1), Decimal(2**53), Decimal("-9007199254740991.0")]
)


@settings(max_examples=3000, deadline=None)
@given(decimals)
def test_number_is_the_plain_rule(value: Decimal) -> None:
    """Whole or not, near 2**53 or past it, many digits or few, signalling NaNs included."""
    assert _outcome(payloads.number, value) == _outcome(_plain_number, value)


@settings(max_examples=1000, deadline=None)
@given(st.integers(-(2**54), 2**54), st.integers(0, 30), st.integers(-3, 3))
def test_number_is_the_plain_rule_next_to_whole_values(whole: int, zeros: int, shift: int) -> None:
    """Whole values spelled with trailing zeros, and values a tiny step off a whole one (whose float is
    whole: 2.00000000000000001), on both sides of 2**53."""
    spelled = Decimal(f"{whole}.{'0' * zeros}") if zeros else Decimal(whole)
    assert _outcome(payloads.number, spelled) == _outcome(_plain_number, spelled)
    off = spelled + Decimal(shift).scaleb(-zeros - 1)
    assert _outcome(payloads.number, off) == _outcome(_plain_number, off)


@settings(max_examples=1500, deadline=None)
@given(decimals, st.integers(0, 8), st.booleans())
def test_a_kept_number_is_the_plain_rule_for_every_spelling_of_the_value(
    value: Decimal, zeros: int, negated_zero: bool
) -> None:
    """``number`` keeps the answers it worked out, keyed by value: the answer kept for 12.5 must be right
    for 12.50, the one for 0 right for -0.00, the first call's and the second's alike."""
    assume(value.is_finite())
    with localcontext(prec=2000):
        respelled = value + Decimal(0).scaleb(-zeros)  # same value, as many more places
        if negated_zero and not value:
            respelled = -respelled.copy_abs()
    assume(respelled == value)
    payloads._kept_numbers.clear()
    for spelling in (value, respelled, value, respelled):
        assert _outcome(payloads.number, spelling) == _outcome(_plain_number, spelling), spelling
    assert len(payloads._kept_numbers) == 1


def test_kept_numbers_stay_bounded() -> None:
    payloads._kept_numbers.clear()
    for cents in range(payloads._KEPT_NUMBERS + 100):
        assert payloads.number(Decimal(cents).scaleb(-2)) == _plain_number(Decimal(cents).scaleb(-2))
    assert len(payloads._kept_numbers) == payloads._KEPT_NUMBERS


def test_number_of_what_is_not_a_decimal_is_left_to_the_plain_rule() -> None:
    for value in (5, 0.5, True):
        assert _outcome(payloads.number, value) == _outcome(_plain_number, value)


def _reference_hash(payload: Mapping[str, Any]) -> str:
    """The hash as the project defined it: json.dumps of the payload without ids at any depth."""
    return json_dumps_hash(payload)


class _Text(str):
    """Text msgspec and json.dumps might treat otherwise: it takes json's road."""


_floats = st.floats() | st.sampled_from([1e-05, 1e-4, 9.99e-5, 1e16, 9999999999999998.0, -0.0, 0.0])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | _floats
    | st.text(max_size=6)
    | st.sampled_from([Decimal("1.5"), _Text("x"), "\ud800", b"x"])
)
_keys = st.sampled_from(["id", "ID", "name", "lines", "é", "a"]) | st.sampled_from([1, None, _Text("id")])
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_keys, inner, max_size=5)
        | st.dictionaries(_keys, inner, max_size=3).map(OrderedDict)
        | st.dictionaries(_keys, inner, max_size=3).map(MappingProxyType)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=6))
def test_content_hash_is_the_json_dumps_hash_or_fails_as_it_does(payload: dict[Any, Any]) -> None:
    """Any payload, plain or not (Decimals, NaN, surrogates, non-text keys, other mappings): one answer."""
    assert _outcome(payloads.content_hash, payload) == _outcome(_reference_hash, payload)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=6))
def test_a_payload_is_hashed_without_being_changed(payload: dict[Any, Any]) -> None:
    before = repr(payload)
    _outcome(payloads.content_hash, payload)
    assert repr(payload) == before
