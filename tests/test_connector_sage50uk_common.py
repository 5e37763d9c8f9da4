"""connectors.common: the row helpers every SQL connector uses (flags, money, dates, since parameters)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from connectors.common import (
    RowProblem,
    amount,
    chunks,
    convert_row,
    flag,
    latest,
    pages,
    since_parameter,
    text,
    when,
)
from core.records import SourceProblem, clean_text

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (0, False),
        (1, True),
        (-1, True),
        ("Y", True),
        ("n", False),
        (" true ", True),
        ("", False),
    ],
)
def test_flags(value, expected):
    assert flag(value) is expected


def test_unreadable_flag_is_a_row_problem():
    with pytest.raises(RowProblem, match="yes/no value 'maybe'"):
        flag("maybe")


def test_amounts_name_the_field():
    assert amount(19.99, "price") == Decimal("19.99")
    assert amount(None, "price", default=Decimal("0.00")) == Decimal("0.00")
    with pytest.raises(RowProblem, match="the price is empty"):
        amount(None, "price")
    with pytest.raises(RowProblem, match=r"the price 'inf' is not a number"):
        amount(float("inf"), "price")


def test_text_fast_path_matches_clean_text():
    for value in (
        "plain",
        "  padded  ",
        "tab\tnew\nline",
        "bell\x07",
        "nul\x00x",
        "del\x7f",
        "😀 é",
        12,
        None,
    ):
        assert text(value) == clean_text(value)
    assert text("abcdef", 3) == clean_text("abcdef", 3) == "abc"


def test_dates_are_aware_in_the_package_zone():
    assert when(datetime(2024, 1, 15, 9, 30), LONDON, "date") == datetime(2024, 1, 15, 9, 30, tzinfo=LONDON)
    assert when("2024-07-01 08:00:00.000", LONDON, "date").utcoffset().total_seconds() == 3600
    with pytest.raises(RowProblem, match="the due date 'soon' is not a date"):
        when("soon", LONDON, "due date")
    assert latest(None, when("2024-01-01", LONDON, "d"), when("2024-02-01", LONDON, "d")).month == 2
    assert latest(None, None) is None


def test_since_parameter_is_naive_local_whole_seconds():
    since = datetime(2024, 7, 1, 12, 0, 30, 999999, tzinfo=UTC)
    assert since_parameter(since, LONDON, object()) == datetime(2024, 7, 1, 13, 0, 30)
    connection = sqlite3.connect(":memory:")
    assert since_parameter(since, LONDON, connection) == "2024-07-01 13:00:30"
    connection.close()


def test_convert_row_turns_failures_into_problems():
    def broken():
        raise RowProblem("the price 'x' is not a number")

    problem = convert_row("items", "WIDGET", broken, what="Stock item")
    assert isinstance(problem, SourceProblem)
    assert problem.message == "Stock item WIDGET was not read: the price 'x' is not a number."
    nameless = convert_row("customers", "", broken, what="Customer")
    assert nameless.key == "" and nameless.message.startswith("A customer without a key")


def test_pages_and_chunks():
    assert [len(page) for page in pages(iter(range(7)), 3)] == [3, 3, 1]
    assert [list(chunk) for chunk in chunks([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
