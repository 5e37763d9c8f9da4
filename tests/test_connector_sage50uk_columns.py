"""Pages converted a column at a time (issue 16) give exactly what the per-row code gives.

Why: ``connectors/columns.py`` converts a page of Sage 50 UK invoice rows column by column and leaves every
row with a cell off its quick paths to the per-row code (``_line``, ``_invoice``...). Its records must be
the per-row code's, digit for digit, zone for zone, and a bad row must give the same problem, naming the
same record and the same first bad cell. Random pages, mostly the types the driver sends but with NULLs, text
numbers, NaN and infinities, huge floats, negative zero, unprintable text, ints, bools, Decimals, dates,
naive and aware datetimes and undecodable text mixed in, go through a whole invoice page twice: as the
connector reads it, and with the column paths switched off (``PerRow``), which is the reference.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import event, given, settings
from hypothesis import strategies as st

from connectors.cells import quick_aware, quick_decimal
from connectors.columns import OFF, aware_column, money_column, text_column
from connectors.common import QUANTITY_PLACES, text
from connectors.sage50uk import (
    HEADER_COLUMNS,
    INVOICE_COLUMNS,
    LINE_COLUMNS,
    USAGE_COLUMNS,
    Sage50UKConnector,
)
from connectors.sql import UndecodableText
from core.records import CENT, RATE_PLACES, InvoiceLine

LONDON = ZoneInfo("Europe/London")
SPLIT_COLUMNS = ("SPLIT_NUMBER", "HEADER_NUMBER")
CURRENCIES = {1: ("GBP", True), 2: ("EUR", False), 4: ("", False)}


class PerRow(Sage50UKConnector):
    """The reference: the connector with its column paths switched off, every row converted by itself."""

    def _prepared_lines(self, lines: dict[int, list[Any]]) -> dict[int, tuple[InvoiceLine, ...]]:
        return {}

    def _quick_invoices(self, page: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
        return [OFF] * len(page), [OFF] * len(page), [None] * len(page)


# --- random cells -------------------------------------------------------------------------------------------

odd = st.one_of(
    st.none(),
    st.sampled_from(["", " 7 ", "19.99", "abc", "1e999", "NaN", "-0", "Invoice", "credit", "SI", "0", "M"]),
    st.floats(),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -1e16, -0.0, 0.0, 5.0]),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=2, min_value=-1000, max_value=1000),
    st.integers(),
    st.integers(-3, 3),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.just(datetime(2026, 10, 25, 1, 30, fold=1)),
    st.sampled_from(["ab\x00c", "tab\there", "\x7f", "line\nbreak", "\u2028", " Caf\xe9 ", "\xa0x"]),
    st.builds(UndecodableText, st.sampled_from(["Caf\ufffd", "x", ""])),
)
money_like = st.floats(min_value=-1e5, max_value=1e5).map(lambda value: round(value, 2))
# Floats as the driver sends them (NaN, 1e300 and the like come among the odd cells).
money = st.one_of(money_like, money_like, money_like, st.sampled_from([0.0, -0.0, 19.99, 5.0]))
quantities = st.one_of(st.integers(0, 5).map(float), money_like)
rates = st.sampled_from([20.0, 5.0, 0.0, 17.5, -0.0])
printable = st.sampled_from("abcXYZ019 -/é£")
words = st.one_of(
    st.sampled_from(["T1", " t0 ", "4000", "", "Widget", "S1", "M"]), st.text(printable, max_size=6)
)
stock_codes = st.one_of(st.sampled_from(["ITEM1", " WIDGET ", "S1", "s3", "M", "m", ""]), words)
accounts = st.sampled_from(["C1", "c1", " C2 ", "C3"])
naive = st.one_of(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    st.integers(0, 7200).map(lambda seconds: datetime(2026, 10, 25, 0, 30) + timedelta(seconds=seconds)),
    st.integers(0, 7200).map(lambda seconds: datetime(2026, 3, 29, 0, 30) + timedelta(seconds=seconds)),
)
numbers = st.integers(1, 12)
nulls = st.none()


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(nulls, strategy)


INVOICE_CELLS: dict[str, st.SearchStrategy[Any]] = {
    "INVOICE_NUMBER": numbers,
    "INVOICE_OR_CREDIT": st.sampled_from(["Invoice", "Invoice", "Credit", "Credit Note", "Quote", 0, 1]),
    "INVOICE_DATE": naive,
    "ACCOUNT_REF": accounts,
    "CUST_ORDER_NUMBER": maybe(words),
    "POSTED_CODE": st.sampled_from([1, 1, 0, None]),
    "PAYMENT_DUE_DATE": maybe(naive),
    "RECORD_DELETED": st.sampled_from([0, 0, 1]),
    "RECORD_MODIFY_DATE": naive,
    "CARR_NET": maybe(money),
    "CARR_TAX": maybe(money),
    "CARR_NOM_CODE": maybe(words),
    "CARR_TAX_CODE": maybe(words),
    "CURRENCY": st.sampled_from([None, None, None, 0, 1, 2, 3, 4]),
    "FOREIGN_RATE": maybe(st.sampled_from([1.16, 0.85])),
}
LINE_CELLS: dict[str, st.SearchStrategy[Any]] = {
    "INVOICE_NUMBER": numbers,
    "ITEM_NUMBER": st.integers(0, 9),
    "STOCK_CODE": stock_codes,
    "DESCRIPTION": st.one_of(words, words, st.just("")),
    "TEXT": maybe(words),
    "QUANTITY": quantities,
    "TAX_CODE": words,
    "TAX_RATE": rates,
    "NOMINAL_CODE": words,
}
HEADER_CELLS: dict[str, st.SearchStrategy[Any]] = {
    "HEADER_NUMBER": st.integers(1, 15),
    "TYPE": st.sampled_from(["SI", "SI", "SC", "si"]),
    "ACCOUNT_REF": accounts,
    "INV_REF": st.one_of(numbers.map(str), words),
    "ISP_REFERENCE": st.one_of(numbers, st.just(0)),
    "PAID_FLAG": st.sampled_from(["Y", "N"]),
    "DELETED_FLAG": st.sampled_from([0, 0, 1]),
    "RECORD_MODIFY_DATE": naive,
}
USAGE_CELLS: dict[str, st.SearchStrategy[Any]] = {
    "USAGE_NUMBER": st.integers(1, 30),
    "SPLIT_NUMBER": st.integers(1, 15),  # the split of header n is n (see invoice_pages)
    "TYPE": st.sampled_from(["SR", "SA"]),
    "REFERENCE": maybe(words),
    "DATE": st.one_of(naive.map(datetime.date), naive),
    "DELETED_FLAG": st.sampled_from([0, 0, 1]),
    "RECORD_MODIFY_DATE": maybe(naive),
}
# Columns whose cells must stay usable as keys for the per-row code to run at all (a split that is not in
# AUDIT_SPLIT cannot come back from the real query).
STEADY = {"SPLIT_NUMBER"}


@st.composite
def table(
    draw: st.DrawFn, columns: Sequence[str], cells: dict[str, st.SearchStrategy[Any]], most: int
) -> list[tuple[Any, ...]]:
    """Rows of ``columns``: as the driver sends them, or, in one table in two, with about one column in
    six where a third of the cells are odd ones."""
    count = draw(st.integers(0, most))
    mixed = draw(st.booleans())
    picked: list[list[Any]] = []
    for column in columns:
        usual = cells.get(column, money)
        messy = mixed and column not in STEADY and draw(st.integers(0, 5)) == 0
        strategy = st.one_of(usual, usual, odd) if messy else usual
        picked.append(draw(st.lists(strategy, min_size=count, max_size=count)))
    return list(zip(*picked, strict=True)) if count else []


@st.composite
def invoice_pages(draw: st.DrawFn) -> dict[tuple[str, ...], list[tuple[Any, ...]]]:
    """What each query of an invoice page gives back: INVOICE rows, their lines, ledger rows, receipts."""
    headers = draw(table(HEADER_COLUMNS, HEADER_CELLS, 8))
    return {
        INVOICE_COLUMNS: draw(table(INVOICE_COLUMNS, INVOICE_CELLS, 8)),
        LINE_COLUMNS: draw(table(LINE_COLUMNS, LINE_CELLS, 16)),
        HEADER_COLUMNS: headers,
        SPLIT_COLUMNS: [(number, number) for number in range(1, 16)],
        USAGE_COLUMNS: draw(table(USAGE_COLUMNS, USAGE_CELLS, 6)),
    }


def _serving(connector: Sage50UKConnector, tables: dict[tuple[str, ...], list[tuple[Any, ...]]]) -> None:
    """The connector's queries answered from ``tables`` (by the columns they select), once each."""

    def ordered_rows(sql: str, columns: Sequence[str], *args: Any, **kwargs: Any) -> Iterator[Any]:
        return iter(tables[tuple(columns)])

    connector.ordered_rows = ordered_rows  # type: ignore[method-assign]
    connector.ordered_rows_in = ordered_rows  # type: ignore[method-assign]
    connector._currencies = lambda: dict(CURRENCIES)  # type: ignore[method-assign]


def outcome(read: Any) -> tuple[Any, ...]:
    """Each record's repr (Decimal digits, zones and folds show in it) in order, or the error raised."""
    try:
        return ("records", [repr(record) for record in read()])
    except Exception as exc:
        return ("raised", type(exc), str(exc))


def read_page(kind: type[Sage50UKConnector], tables: Any, zone: tzinfo | None) -> tuple[Any, ...]:
    connector = kind(lambda: None, local_zone=zone)
    _serving(connector, tables)
    return outcome(lambda: list(connector._invoice_page(list(tables[INVOICE_COLUMNS]))))


# --- the page, both ways ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(tables=invoice_pages(), zone=st.sampled_from([LONDON, None]))
def test_an_invoice_page_is_what_the_per_row_code_reads(tables, zone):
    found = read_page(Sage50UKConnector, tables, zone)
    assert found == read_page(PerRow, tables, zone)
    event(f"{found[0]}, {len(found[1]) if found[0] == 'records' else found[1]}")  # shown by statistics


@settings(max_examples=250, deadline=None)
@given(rows=table(LINE_COLUMNS, LINE_CELLS, 20))
def test_each_quick_line_is_what_line_gives_and_only_lines_left_out_can_fail(rows):
    connector = Sage50UKConnector(lambda: None, local_zone=LONDON)
    quick, left_out = connector._quick_lines(rows)
    assert len(quick) == len(rows)
    for position, (row, line) in enumerate(zip(rows, quick, strict=True)):
        if line is None:
            assert position in left_out
            continue
        assert position not in left_out
        assert repr(line) == repr(connector._line(row, False))  # raising here fails the test too
    event(f"{len(rows) - len(left_out)} of {len(rows)} lines quick")


# --- the column converters, cell by cell --------------------------------------------------------------------

cells_of_a_column = st.one_of(
    st.lists(money, max_size=20),
    st.lists(st.one_of(money, money, odd), max_size=20),
    st.lists(st.one_of(words, nulls), max_size=20),
    st.lists(st.one_of(words, words, odd), max_size=20),
    st.lists(st.one_of(naive, naive.map(lambda value: value.replace(fold=1)), odd), max_size=20),
    st.lists(naive, max_size=20),
    st.lists(odd, max_size=20),
)


@settings(max_examples=600, deadline=None)
@given(cells=cells_of_a_column, places=st.sampled_from([CENT, RATE_PLACES, QUANTITY_PLACES, Decimal("0.1")]))
def test_a_money_column_is_quick_decimal_of_each_cell(cells, places):
    for cell, found in zip(cells, money_column(cells, places, empty="empty"), strict=True):
        expected = "empty" if cell is None else quick_decimal(cell, places)
        assert repr(found) == repr(OFF if expected is None else expected)


@settings(max_examples=600, deadline=None)
@given(cells=cells_of_a_column)
def test_a_text_column_is_text_of_each_cell_it_answers(cells):
    for cell, found in zip(cells, text_column(cells), strict=True):
        if found is OFF:
            continue  # left to text itself
        assert type(found) is str and found == text(cell)
        assert type(cell) is not UndecodableText


@settings(max_examples=600, deadline=None)
@given(cells=cells_of_a_column, zone=st.sampled_from([LONDON, ZoneInfo("America/Toronto"), None]))
def test_an_aware_column_is_quick_aware_of_each_cell(cells, zone):
    for cell, found in zip(cells, aware_column(cells, zone, empty="empty"), strict=True):
        expected = "empty" if cell is None else quick_aware(cell, zone)
        assert repr(found) == repr(OFF if expected is None else expected)


def test_a_page_as_the_driver_sends_it_is_converted_without_the_per_row_code():
    """The property above would hold with no column path at all: this says the usual page takes it."""
    row = (1, 1, "ITEM1", "Widget", None, 2.0, 5.0, 10.0, 2.0, "T1", 20.0, "4000", None, None, None)
    rows = [(number, *row[1:]) for number in range(1, 60)]
    quick, left_out = Sage50UKConnector(lambda: None, local_zone=LONDON)._quick_lines(rows)
    assert not left_out and all(line is not None for line in quick)


def test_the_per_row_errors_stay_the_per_row_codes():
    """A bad cell still gives the per-row code's words, on the record it belongs to."""
    good = (1, 1, "ITEM1", "Widget", None, 2.0, 5.0, 10.0, 2.0, "T1", 20.0, "4000", None, None, None)
    bad = (2, 3, "ITEM1", "Widget", None, 2.0, 5.0, "lots", 2.0, "T1", 20.0, "4000", None, None, None)
    invoice = dict.fromkeys(INVOICE_COLUMNS)
    invoice.update(
        INVOICE_OR_CREDIT="Invoice", ACCOUNT_REF="C1", INVOICE_NET=10.0, INVOICE_TAX=2.0, INVOICE_GROSS=12.0
    )
    invoice["INVOICE_DATE"] = invoice["RECORD_MODIFY_DATE"] = datetime(2024, 5, 1, 9)
    page = [tuple({**invoice, "INVOICE_NUMBER": n}[column] for column in INVOICE_COLUMNS) for n in (1, 2)]
    tables = {
        INVOICE_COLUMNS: page,
        LINE_COLUMNS: [good, bad],
        HEADER_COLUMNS: [],
        SPLIT_COLUMNS: [],
        USAGE_COLUMNS: [],
    }
    kind, records = read_page(Sage50UKConnector, tables, LONDON)
    assert kind == "records" and "Invoice(key='1'" in records[0]
    assert "Invoice 2 was not read: the net amount of line 3 'lots' is not a number." in records[1]
    assert (kind, records) == read_page(PerRow, tables, LONDON)


def test_the_kept_conversions_stay_bounded_and_never_keep_zero():
    """A column of fresh floats fills the kept conversions as ``quick_decimal`` would: up to its bound."""
    from connectors.cells import _KEPT_PER_PLACES, kept_conversions

    kept = kept_conversions(CENT)
    assert kept is not None
    cells = [0.0, -0.0, *(n + 0.25 for n in range(2 * _KEPT_PER_PLACES))]
    found = money_column(cells)
    assert [repr(value) for value in found[:3]] == ["Decimal('0.00')", "Decimal('-0.00')", "Decimal('0.25')"]
    assert len(kept) <= _KEPT_PER_PLACES and 0.0 not in kept
    assert repr(money_column([-0.0])[0]) == "Decimal('-0.00')"
    assert all(kept[value] == quick_decimal(value) for value in list(kept)[:50])


def test_a_page_longer_than_one_batch_is_what_the_per_row_code_reads():
    """Invoices are converted a batch at a time (``_AT_ONCE``): records and problems either side of a
    batch's end, an invoice number met twice, lines of invoices in other batches."""
    from connectors.sage50uk import _AT_ONCE

    invoice = dict.fromkeys(INVOICE_COLUMNS)
    invoice.update(INVOICE_OR_CREDIT="Invoice", ACCOUNT_REF="C1", INVOICE_NET=10.0, INVOICE_TAX=2.0)
    invoice["INVOICE_DATE"] = invoice["RECORD_MODIFY_DATE"] = datetime(2024, 5, 1, 9)
    count = 2 * _AT_ONCE + 7
    numbers = [*range(1, count), _AT_ONCE]  # the last one again, in another batch
    page = []
    for at, number in enumerate(numbers):
        cells = {**invoice, "INVOICE_NUMBER": number, "INVOICE_GROSS": 12.0 + at / 100}
        if at in (_AT_ONCE - 1, _AT_ONCE + 1):
            cells["ACCOUNT_REF"] = UndecodableText("C\ufffd")
        if at == _AT_ONCE:
            cells.update(CARR_NET=1.5, CARR_TAX_CODE="t1")
        page.append(tuple(cells[column] for column in INVOICE_COLUMNS))
    line = (1, 1, "ITEM1", "Widget", None, 2.0, 5.0, 10.0, 2.0, "T1", 20.0, "4000", None, None, None)
    lines = [(number, item, *line[2:]) for number in range(count, 0, -1) for item in (1, 2)]
    lines[5] = (*lines[5][:7], "lots", *lines[5][8:])
    tables = {
        INVOICE_COLUMNS: page,
        LINE_COLUMNS: lines,
        HEADER_COLUMNS: [],
        SPLIT_COLUMNS: [],
        USAGE_COLUMNS: [],
    }
    kind, records = read_page(Sage50UKConnector, tables, LONDON)
    assert kind == "records" and len(records) == len(numbers)
    assert sum("was not read" in record for record in records) == 3
    assert (kind, records) == read_page(PerRow, tables, LONDON)
