"""Sage 50 UK invoice lines and receipts read as values (issue 16): every value and every error as before.

Why: the invoices stream no longer builds a dict per row, and a cell's label ("net amount of line 3") is only
built when the quick conversions leave that cell to the reference. The conversions as they were (rows as
dicts, labels built for every cell) are kept here as the reference; on random rows, good and bad cells
mixed, the connector must give the same record (same digits, zone and kind) or the same error, naming the
same cell first.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.common import (
    QUANTITY_PLACES,
    RowProblem,
    amount,
    rate,
    required_text,
    required_when,
    text,
    when,
)
from connectors.sage50uk import (
    LINE_COLUMNS,
    MESSAGE_CODE,
    NON_STOCK_CODES,
    USAGE_COLUMNS,
    Sage50UKConnector,
)
from connectors.sql import UndecodableText
from core.records import InvoiceLine, Payment, SourceProblem

LONDON = ZoneInfo("Europe/London")
_ZERO = Decimal("0.00")
_PAYMENT_METHODS = {"SR": "Receipt", "SA": "Payment on account"}


# --- the conversions as they were before the invoices were read as values (commit 0431ab1) ----------------


def _money(row: dict[str, Any], column: str, label: str, foreign: bool, default: Decimal | None = None):
    if not foreign:
        return amount(row.get(column), label, default=default)
    return amount(row.get(f"FOREIGN_{column}"), f"{label} in the document's currency", default=default)


def reference_line(row: dict[str, Any], foreign: bool) -> InvoiceLine:
    number = row.get("ITEM_NUMBER")
    label = f"line {number}"
    net = _money(row, "NET_AMOUNT", f"net amount of {label}", foreign)
    stock_code = text(row.get("STOCK_CODE"))
    tax_rate_value = row.get("TAX_RATE")
    is_message = stock_code.upper() == MESSAGE_CODE
    return InvoiceLine(
        number=int(number) if number is not None else 0,
        description=text(row.get("DESCRIPTION")) or text(row.get("TEXT")),
        quantity=amount(row.get("QUANTITY"), f"quantity of {label}", places=QUANTITY_PLACES),
        unit_price=_money(row, "UNIT_PRICE", f"unit price of {label}", foreign, net),
        net=net,
        tax=_money(row, "TAX_AMOUNT", f"VAT of {label}", foreign, _ZERO),
        item_key="" if stock_code.upper() in NON_STOCK_CODES else stock_code,
        tax_code=text(row.get("TAX_CODE")).upper(),
        tax_rate=None if tax_rate_value is None else rate(tax_rate_value, f"VAT rate of {label}"),
        nominal_code=text(row.get("NOMINAL_CODE")),
        kind="text" if is_message and not net else "discount" if net < 0 else "item",
    )


def reference_payment(row: dict[str, Any], invoice_key: str, customer_key: str, foreign: bool) -> Payment:
    usage_number = text(row.get("USAGE_NUMBER"))
    kind = text(row.get("TYPE")).upper()
    paid = _money(row, "AMOUNT", f"amount of receipt {usage_number}", foreign)
    return Payment(
        key=required_text(usage_number, "allocation number"),
        invoice_key=invoice_key,
        customer_key=customer_key,
        date=required_when(row.get("DATE"), LONDON, f"date of receipt {usage_number}"),
        amount=abs(paid),
        method=_PAYMENT_METHODS.get(kind, kind),
        reference=text(row.get("REFERENCE")),
        modified=when(row.get("RECORD_MODIFY_DATE"), LONDON, "receipt modified date"),
    )


# --- random rows --------------------------------------------------------------------------------------------

odd = st.one_of(
    st.none(),
    st.sampled_from(["", " 7 ", "abc", "1e999", "NaN", "£19.99", "-0"]),
    st.floats(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.booleans(),
    st.builds(UndecodableText, st.sampled_from(["Caf\ufffd", "x"])),
)
money = st.one_of(st.floats(min_value=-1e6, max_value=1e6).map(lambda value: round(value, 2)), st.just(0.0))
money_cells = st.one_of(money, money, money, odd)  # mostly what Sage sends, a bad cell now and then
words = st.one_of(st.text(max_size=8), st.sampled_from(["S1", "M", "m", " T1 ", "ITEM00001", "4000"]))
text_cells = st.one_of(words, words, words, odd)
moments = st.one_of(st.datetimes(), st.dates(), st.datetimes(timezones=st.just(UTC)))
date_cells = st.one_of(moments, moments, moments, odd, st.just(datetime(2026, 10, 25, 1, 30, fold=1)))
number_cells = st.one_of(st.integers(0, 999), st.integers(0, 999), odd)
LINE_CELLS = {
    "INVOICE_NUMBER": number_cells,
    "ITEM_NUMBER": number_cells,
    "STOCK_CODE": text_cells,
    "DESCRIPTION": text_cells,
    "TEXT": text_cells,
    "TAX_CODE": text_cells,
    "NOMINAL_CODE": text_cells,
}
USAGE_CELLS = {
    "USAGE_NUMBER": number_cells,
    "SPLIT_NUMBER": number_cells,
    "TYPE": st.one_of(st.sampled_from(["SR", "SA", "sr", "XX"]), text_cells),
    "REFERENCE": text_cells,
    "DATE": date_cells,
    "RECORD_MODIFY_DATE": date_cells,
    "DELETED_FLAG": st.sampled_from([0, 1, None]),
}
line_rows = st.fixed_dictionaries({column: LINE_CELLS.get(column, money_cells) for column in LINE_COLUMNS})
usage_rows = st.fixed_dictionaries({column: USAGE_CELLS.get(column, money_cells) for column in USAGE_COLUMNS})


def outcome(convert: Any, *args: Any) -> tuple[Any, ...]:
    """The record's repr (Decimal digits, zones and folds show in it), or the error's type and words."""
    try:
        return ("value", repr(convert(*args)))
    except Exception as exc:
        return ("raised", type(exc), str(exc))


def _connector() -> Sage50UKConnector:
    return Sage50UKConnector(lambda: None, local_zone=LONDON)


@settings(max_examples=800, deadline=None)
@given(row=line_rows, foreign=st.booleans())
def test_a_line_is_what_the_dict_reading_gave(row, foreign):
    values = tuple(row[column] for column in LINE_COLUMNS)
    assert outcome(_connector()._line, values, foreign) == outcome(reference_line, row, foreign)


@settings(max_examples=800, deadline=None)
@given(row=usage_rows, foreign=st.booleans())
def test_a_receipt_is_what_the_dict_reading_gave(row, foreign):
    values = tuple(row[column] for column in USAGE_COLUMNS)
    found = outcome(_connector()._payment, values, "1001", "C1", foreign)
    assert found == outcome(reference_payment, row, "1001", "C1", foreign)


def _line(**cells: Any) -> tuple[Any, ...]:
    good = {
        "INVOICE_NUMBER": 1001,
        "ITEM_NUMBER": 3,
        "STOCK_CODE": "ITEM1",
        "DESCRIPTION": "Widget",
        "QUANTITY": 2.0,
        "UNIT_PRICE": 5.0,
        "NET_AMOUNT": 10.0,
        "TAX_AMOUNT": 2.0,
        "TAX_CODE": "T1",
        "TAX_RATE": 20.0,
    }
    row = {**good, **cells}
    return tuple(row.get(column) for column in LINE_COLUMNS)


@pytest.mark.parametrize(
    ("cells", "foreign", "message"),
    [
        ({"NET_AMOUNT": "abc"}, False, "the net amount of line 3 'abc' is not a number"),
        ({"NET_AMOUNT": None}, False, "the net amount of line 3 is empty"),
        ({"FOREIGN_NET_AMOUNT": None}, True, "the net amount of line 3 in the document's currency is empty"),
        ({"QUANTITY": float("nan")}, False, "the quantity of line 3 'nan' is not a number"),
        ({"UNIT_PRICE": "£5"}, False, "the unit price of line 3 '£5' is not a number"),
        ({"TAX_AMOUNT": True}, False, "the VAT of line 3 'True' is not a number"),
        ({"TAX_RATE": "twenty"}, False, "the VAT rate of line 3 'twenty' is not a number"),
        ({"ITEM_NUMBER": None, "QUANTITY": "x"}, False, "the quantity of line None 'x' is not a number"),
        # Two bad cells: the net amount is read first, as it always was.
        ({"NET_AMOUNT": "n", "QUANTITY": "q"}, False, "the net amount of line 3 'n' is not a number"),
    ],
)
def test_a_bad_cell_names_its_line_through_the_label_built_only_then(cells, foreign, message):
    foreign_cells = {"FOREIGN_UNIT_PRICE": 5.0, "FOREIGN_NET_AMOUNT": 10.0, "FOREIGN_TAX_AMOUNT": 2.0}
    values = _line(**({**foreign_cells, **cells} if foreign else cells))
    with pytest.raises(RowProblem) as raised:
        _connector()._line(values, foreign)
    assert str(raised.value) == message


def test_a_bad_receipt_cell_names_its_receipt():
    row = dict.fromkeys(USAGE_COLUMNS)
    row.update(USAGE_NUMBER=42, TYPE="SR", AMOUNT="lots", DATE=datetime(2024, 5, 1))
    with pytest.raises(RowProblem, match=r"^the amount of receipt 42 'lots' is not a number$"):
        _connector()._payment(tuple(row[column] for column in USAGE_COLUMNS), "1001", "C1", False)
    row.update(AMOUNT=10.0, DATE="yesterday")
    with pytest.raises(RowProblem, match=r"^the date of receipt 42 'yesterday' is not a date$"):
        _connector()._payment(tuple(row[column] for column in USAGE_COLUMNS), "1001", "C1", False)


def test_a_bad_line_cell_is_a_problem_naming_the_invoice_and_the_line(tmp_path):
    """End to end, on the stand-in read through the stdlib sqlite3 connection (its cells keep SQLite's own
    types, so a text in a DOUBLE column reaches the connector as text, as a driver may send it)."""
    from tests.standins.sage50uk import build_company

    path = build_company(tmp_path / "standin.sqlite")
    with sqlite3.connect(path) as db:
        first = "SELECT INVOICE_NUMBER, ITEM_NUMBER FROM INVOICE_ITEM ORDER BY INVOICE_NUMBER, ITEM_NUMBER"
        number, item = db.execute(first).fetchone()
        db.execute(
            "UPDATE INVOICE_ITEM SET NET_AMOUNT = 'lots' WHERE INVOICE_NUMBER = ? AND ITEM_NUMBER = ?",
            (number, item),
        )
    connector = Sage50UKConnector(lambda: sqlite3.connect(path), local_zone=LONDON, page_size=3)
    with connector:
        found = {record.key: record for record in connector.read("invoices")}
    problem = found[str(number)]
    assert isinstance(problem, SourceProblem)
    assert f"{number} was not read: the net amount of line {item} 'lots' is not a number." in problem.message
    assert sum(isinstance(record, SourceProblem) for record in found.values()) < len(found) / 2


def test_dates_and_times_survive_as_before():
    """A receipt dated on the fall-back day: the earlier instant, as ``aware`` gives it."""
    row = dict.fromkeys(USAGE_COLUMNS)
    row.update(USAGE_NUMBER=7, TYPE="SA", AMOUNT=-3.5, DATE=date(2026, 10, 25))
    row["RECORD_MODIFY_DATE"] = datetime(2026, 10, 25, 1, 30)
    payment = _connector()._payment(tuple(row[column] for column in USAGE_COLUMNS), "1001", "C1", False)
    assert payment == reference_payment(row, "1001", "C1", False)
    assert payment.modified is not None and payment.modified.utcoffset() == timedelta(hours=1)


def reference_references(inv_ref: object, isp: object) -> set[str]:
    try:
        found = {text(inv_ref)}
    except RowProblem:  # text in no character set we can read names no invoice (a number is digits)
        found = set()
    if isinstance(isp, int | float) and isp:
        found.add(str(int(isp)))
    elif isinstance(isp, str) and isp.strip() not in ("", "0"):
        found.add(isp.strip())
    return {reference for reference in found if reference}


@settings(max_examples=400, deadline=None)
@given(inv_ref=text_cells, isp=st.one_of(number_cells, st.floats(), text_cells))
def test_a_ledger_headers_references_are_what_they_were(inv_ref, isp):
    from connectors.sage50uk import _references

    found = outcome(lambda: sorted(_references(inv_ref, isp)))  # a set's repr follows its history
    assert found == outcome(lambda: sorted(reference_references(inv_ref, isp)))
