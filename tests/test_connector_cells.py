"""Property: the quick cell conversions give exactly what the kernel's reference conversions give.

``connectors/cells.py`` and the quick paths in ``connectors/common.py`` skip the reference's case-by-case
tests for the types drivers send. Whatever the value (floats with noise, NaN, infinities, huge numbers,
Decimals with many digits, bools, text, naive and aware datetimes with either fold, dates), the answer must
be the reference's: equal, with the same digits and sign (Decimal('-0.00') is not Decimal('0.00') to a
payload), the same zone and fold, or the same error.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.cells import aware_cell, decimal_cell, quick_aware, quick_decimal
from connectors.common import RowProblem, amount, flag, text, when
from core.records import CENT, RATE_PLACES, aware, clean_text, to_decimal

ZONES = [ZoneInfo("Europe/London"), ZoneInfo("America/Toronto"), ZoneInfo("Australia/Lord_Howe"), None]
PLACES = [CENT, RATE_PLACES, Decimal("0.010"), Decimal("0.000001"), Decimal("1")]

numbers = st.one_of(
    st.floats(),  # NaN, infinities, subnormals, -0.0, 1e300
    st.floats(min_value=-1e7, max_value=1e7).map(lambda value: round(value, 2)),  # money-like, with noise
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=6, min_value=-(10**9), max_value=10**9),
    st.integers(),
    st.integers(min_value=-(10**16), max_value=10**16),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["19.99", " 7 ", "1e999", "-0", "NaN", "12,50", "£19.99", ""]),
)
# Around the fall-back and spring-forward hours, where the fold matters, and anywhere else.
near_changes = st.sampled_from(
    [datetime(2026, 10, 25, 1, 0), datetime(2026, 3, 29, 1, 0), datetime(2026, 11, 1, 1, 0)]
).flatmap(lambda start: st.integers(0, 7200).map(lambda seconds: start + timedelta(seconds=seconds)))
naive_times = st.one_of(st.datetimes(), near_changes).flatmap(
    lambda value: st.sampled_from([value, value.replace(fold=1)])
)
times = st.one_of(
    naive_times,
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-8)), *ZONES[:3]])),
    st.dates(),
    st.none(),
    st.text(max_size=25),
    st.sampled_from(["2024-03-01T10:15:00-08:00", "2026-10-25 01:30:00", "2024-02-30", " ", "Z"]),
    st.integers(),
)


def outcome(convert, *args):
    """What a conversion gives: the value with what makes it distinct (digits, zone, fold), or its error."""
    try:
        value = convert(*args)
    except Exception as exc:  # the error's type and words are part of the contract
        return ("raised", type(exc), str(exc))
    if isinstance(value, Decimal):
        return ("decimal", value.as_tuple())
    if isinstance(value, datetime):
        return ("datetime", value, value.tzinfo, value.fold, value.utcoffset(), value.tzname())
    return ("value", type(value), value)


@settings(max_examples=600, deadline=None)
@given(value=numbers, places=st.sampled_from(PLACES))
def test_decimal_cell_is_to_decimal(value, places):
    assert outcome(decimal_cell, value, places) == outcome(to_decimal, value, places)


@settings(max_examples=600, deadline=None)
@given(value=times, zone=st.sampled_from(ZONES))
def test_aware_cell_is_aware(value, zone):
    assert outcome(aware_cell, value, zone) == outcome(aware, value, zone)


@settings(max_examples=600, deadline=None)
@given(value=numbers, places=st.sampled_from(PLACES))
def test_quick_decimal_is_to_decimal_or_leaves_the_cell_to_it(value, places):
    """A quick answer is the reference's; None only where the reference is asked (and may raise)."""
    quick = quick_decimal(value, places)
    if quick is not None:
        assert outcome(quick_decimal, value, places) == outcome(to_decimal, value, places)
    if (type(value) is float and abs(value) < 1e15) or (type(value) is int and abs(value) < 10**15):
        assert quick is not None  # what Sage and most drivers send never needs the reference


@settings(max_examples=600, deadline=None)
@given(value=times, zone=st.sampled_from(ZONES))
def test_quick_aware_is_aware_or_leaves_the_cell_to_it(value, zone):
    quick = quick_aware(value, zone)
    if quick is not None:
        assert outcome(quick_aware, value, zone) == outcome(aware, value, zone)
    if type(value) is datetime and value.tzinfo is None and not value.fold and zone is not None:
        assert quick is not None


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="the PC's zone can only be switched with tzset")
@pytest.mark.parametrize("pc_zone", ["Europe/London", "America/Toronto", "Australia/Lord_Howe", "UTC"])
def test_without_a_zone_the_pcs_own_rules_give_what_aware_gives(pc_zone):
    """Read with no zone (the default setting), each day's offset is found once: the same answers as
    ``aware``, on days with a clock change too, and after the PC's zone changes."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = pc_zone
    time.tzset()
    try:

        @settings(max_examples=300, deadline=None)
        @given(value=st.one_of(naive_times, st.dates()))
        def same_as_aware(value):
            assert outcome(aware_cell, value, None) == outcome(aware, value, None)

        same_as_aware()
        for day in (
            datetime(2026, 10, 25),
            datetime(2026, 3, 29),
            datetime(2026, 11, 1),
            datetime(2026, 4, 5),
        ):
            for minute in range(0, 24 * 60, 7):
                value = day + timedelta(minutes=minute)
                assert outcome(aware_cell, value, None) == outcome(aware, value, None)
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(st.text(), st.integers(), st.none(), st.binary(max_size=8), st.floats()))
def test_text_is_clean_text(value):
    assert outcome(text, value) == outcome(clean_text, value)
    assert outcome(text, value, 5) == outcome(clean_text, value, 5)


def test_the_quick_paths_keep_the_references_edge_cases():
    assert decimal_cell(19.99) == Decimal("19.99")  # Sage's DOUBLE, without float noise
    assert str(decimal_cell(-0.0)) == str(to_decimal(-0.0)) == "-0.00"
    assert decimal_cell(Decimal("2.675")) == Decimal("2.68")  # half up, straight from the driver's Decimal
    with pytest.raises(ValueError, match="not a finite number"):
        decimal_cell(float("inf"))
    with pytest.raises(ValueError, match="not a number"):
        decimal_cell(True)
    with pytest.raises(ValueError, match="number too large"):
        decimal_cell(Decimal("1e40"))
    # Kept conversions: a repeat gives the same answer, zero's sign survives, equal places of another
    # exponent are not confused with the kernel's.
    assert [str(decimal_cell(value)) for value in (19.99, 19.99, 0.0, -0.0, 0.0)] == [
        "19.99",
        "19.99",
        "0.00",
        "-0.00",
        "0.00",
    ]
    assert str(decimal_cell(2.5, RATE_PLACES)) == "2.5000" and str(decimal_cell(2.5)) == "2.50"
    assert str(decimal_cell(2.5, Decimal("0.010"))) == "2.500"
    london = ZoneInfo("Europe/London")
    repeated = aware_cell(datetime(2026, 10, 25, 1, 10), london)  # the fall-back's repeated hour
    assert repeated is not None and repeated.fold == 0 and repeated.utcoffset() == timedelta(hours=1)
    assert aware_cell(date(2024, 5, 1), london) == datetime(2024, 5, 1, tzinfo=london)


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(numbers, times), zone=st.sampled_from(ZONES))
def test_the_row_helpers_give_the_references_values_and_a_row_problem_where_they_fail(value, zone):
    """``amount`` / ``when``: the reference's value, or a row problem naming the field."""
    money = outcome(to_decimal, value, CENT)
    if value is None or money[0] == "raised":
        with pytest.raises(RowProblem, match="net amount"):
            amount(value, "net amount")
    else:
        assert outcome(amount, value, "net amount") == money
    moment = outcome(aware, value, zone)
    if moment[0] == "raised":
        with pytest.raises(RowProblem, match="modified date"):
            when(value, zone, "modified date")
    else:
        assert outcome(when, value, zone, "modified date") == moment


@given(value=st.one_of(st.integers(), st.floats(), st.booleans(), st.decimals(allow_nan=False), st.none()))
def test_a_numeric_flag_is_set_when_it_is_not_zero(value):
    assert flag(value) == (value is not None and value != 0)
