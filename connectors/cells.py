"""Cell conversions for the types drivers really send, with the kernel's reference conversions behind them.

Why: converting rows was most of a connector's read time. ``core.records.to_decimal`` and ``aware`` accept
anything (text, bools, NaN, huge numbers) and test each case on every cell; a driver sends one type per
column almost always (Sage's DOUBLE money arrives as ``float``, MySQL's DECIMAL as ``Decimal``, timestamps
as naive ``datetime``). These go straight to the answer for that type, with one identity test on the cell's
class, and hand every other value (NULL, text, bool, NaN, infinities, out-of-range numbers, a datetime with
a fold or a zone of its own, any date read without a zone) to the reference conversion: the result, and the
error for a bad cell, is the reference's by construction. ``tests/test_connector_cells.py`` checks it on
random values.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from core.records import CENT, RATE_PLACES, aware, to_decimal

# Below this magnitude a float's repr has at most 17 significant digits, so quantising it to 6 places stays
# far inside a Decimal context's 28: the quick path cannot fail where the reference would not.
_QUICK_LIMIT = 1e15
_MIDNIGHT = time.min
# Books repeat their amounts (prices, quantities, VAT rates), and a Decimal cannot change: the first values
# met are kept, so a repeat costs one dict look-up instead of repr + parse + quantise. Only for the
# kernel's own places (CENT, RATE_PLACES), told by identity: Decimal('0.01') == Decimal('0.010') although
# they quantise differently. Bounded (1.2 MB when both are full), so memory stays flat however large the
# books; zero is never kept (0.0 and -0.0 are one dict key but not one Decimal: '-0.00' must stay '-0.00').
_KEPT_PER_PLACES = 4096
_kept_cents: dict[float, Decimal] = {}
_kept_fourths: dict[float, Decimal] = {}


def decimal_cell(value: Any, places: Decimal = CENT) -> Decimal:
    """``core.records.to_decimal(value, places)``, quick for the float, Decimal and int drivers send.

    A float goes through ``repr`` exactly as in the reference (Sage's DOUBLE 19.99 -> Decimal('19.99'));
    a Decimal is quantised as it is, never through ``str``.
    """
    kind = type(value)
    if kind is float:
        kept = _kept_cents if places is CENT else _kept_fourths if places is RATE_PLACES else None
        if kept is not None:
            found = kept.get(value)
            if found is not None:
                return found
        if -_QUICK_LIMIT < value < _QUICK_LIMIT:  # False for NaN as well
            result = Decimal(repr(value)).quantize(places, ROUND_HALF_UP)
            if kept is not None and value and len(kept) < _KEPT_PER_PLACES:
                kept[value] = result
            return result
    elif kind is Decimal:
        if value.is_finite():
            try:
                quantised: Decimal = value.quantize(places, ROUND_HALF_UP)
                return quantised
            except InvalidOperation:
                pass  # more digits than the context holds: the reference words the error
    elif kind is int and -_QUICK_LIMIT < value < _QUICK_LIMIT:
        return Decimal(value).quantize(places, ROUND_HALF_UP)
    return to_decimal(value, places)


def aware_cell(value: Any, zone: tzinfo | None) -> datetime | None:
    """``core.records.aware(value, zone)``, quick for the naive datetime or date a driver sends.

    A naive value gets ``zone`` with ``fold=0`` (the earlier instant of a repeated hour), as ``aware``
    gives it. Without a zone (the PC's own rules, looked up date by date) ``aware`` does the work.
    """
    if zone is not None:
        kind = type(value)
        if kind is datetime:
            if value.tzinfo is None and not value.fold:
                return datetime.combine(value, value.time(), zone)
        elif kind is date:
            return datetime.combine(value, _MIDNIGHT, zone)
    return aware(value, zone)
