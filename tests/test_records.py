"""Canonical record helpers: money without float noise, aware dates, clean Unicode text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.records import aware, clean_text, money, to_decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (19.99, "19.99"),
        (0.1 + 0.2, "0.30"),
        (1234567.005, "1234567.01"),  # half-up on the repr, not on the binary value
        (-0.005, "-0.01"),
        ("  12.5 ", "12.50"),
        (Decimal("3.14159"), "3.14"),
        (7, "7.00"),
    ],
)
def test_money_is_exact_decimal(raw, expected):
    assert money(raw) == Decimal(expected)
    assert str(money(raw)) == expected


@pytest.mark.parametrize("raw", [None, float("nan"), float("inf"), "abc", True, "1e999999999"])
def test_money_rejects_what_is_not_money(raw):
    with pytest.raises(ValueError):
        money(raw)


def test_rates_keep_four_places():
    assert to_decimal(9.975, Decimal("0.0001")) == Decimal("9.9750")


def test_aware_keeps_offsets_and_localises_naive_values():
    qb = aware("2024-03-01T10:15:00-08:00")
    assert qb.utcoffset() == timedelta(hours=-8)
    zone = timezone(timedelta(hours=1))
    sage = aware(datetime(2024, 3, 1, 10, 15), zone)
    assert sage.tzinfo is zone
    assert aware(date(2024, 3, 1), UTC) == datetime(2024, 3, 1, tzinfo=UTC)
    assert aware(None) is None and aware("  ") is None
    with pytest.raises(ValueError):
        aware("31/02/2024")


def test_clean_text_drops_control_characters_but_keeps_unicode():
    assert clean_text("O'Brien\x00 & Søn 🚀\x07") == "O'Brien & Søn 🚀"
    assert clean_text(None) == ""
    assert clean_text(b"caf\xc3\xa9") == "café"
    assert clean_text("x" * 100, max_length=60) == "x" * 60


@given(st.text())
def test_clean_text_never_raises_and_never_leaves_controls(text):
    cleaned = clean_text(text)
    assert all(ch in "\t\n" or (ord(ch) >= 32 and ord(ch) != 127) for ch in cleaned)
