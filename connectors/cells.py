"""Cell conversions for the types drivers really send, with the kernel's reference conversions behind them.

Why: converting rows was most of a connector's read time. ``core.records.to_decimal`` and ``aware`` accept
anything (text, bools, NaN, huge numbers) and test each case on every cell; a driver sends one type per
column almost always (Sage's DOUBLE money arrives as ``float``, MySQL's DECIMAL as ``Decimal``, timestamps
as naive ``datetime``). These go straight to the answer for that type, with one identity test on the cell's
class, and hand every other value (NULL, text, bool, NaN, infinities, out-of-range numbers, a datetime with
a fold or a zone of its own, a date read without a zone on a day the PC's clock changes) to the reference
conversion: the result, and the error for a bad cell, is the reference's by construction.
``quick_decimal`` / ``quick_aware`` are the quick answers alone (None where the reference must see the cell),
so a hot row conversion builds a cell's label for its error message only for a cell that needs one.
``tests/test_connector_cells.py`` checks it on random values.
"""

from __future__ import annotations

import time as clock
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import islice, repeat
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
# Without a zone, ``aware`` asks the PC's rules for every cell (``astimezone``). A day whose offset is the
# same at its start, noon and last microsecond, each wall time read back unchanged (no gap, no repeated
# hour), has that one offset all day: it is kept, by the day's ordinal, as the fixed-offset zone
# ``astimezone`` gives. Days with a clock change (None) go to ``aware`` cell by cell, so do all days once
# 4,096 are kept, and everything is forgotten when the PC's zone changes under us (``time.tzset``).
_KEPT_DAYS = 4096
_NOT_KEPT = object()
_pc_days: dict[int, tzinfo | None] = {}
_pc_rules: tuple[object, ...] = ()
_DAY_POINTS = (timedelta(0), timedelta(hours=12), timedelta(days=1, microseconds=-1))


def decimal_cell(value: Any, places: Decimal = CENT) -> Decimal:
    """``core.records.to_decimal(value, places)``, quick for the float, Decimal and int drivers send."""
    found = quick_decimal(value, places)
    return found if found is not None else to_decimal(value, places)


def quick_decimal(value: Any, places: Decimal = CENT) -> Decimal | None:
    """What ``to_decimal(value, places)`` gives for a float, Decimal or int it need not test case by case;
    None for every other value (NULL, text, bools, NaN, infinities, huge numbers), which the reference must
    see: the caller then words the error with the cell's label, built only for such a cell.

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
    return None


def quick_floats(floats: list[float], places: Decimal) -> list[Decimal] | None:
    """``quick_decimal(value, places)`` of each of ``floats`` (all of type float), a C-level ``map`` each
    step, when every one is inside the quick limit; None when one is not (NaN, infinities, huge), and the
    caller asks ``quick_decimal`` cell by cell. The answers are kept as ``quick_decimal`` keeps them.

    Why: once the kept conversions are full, the amounts of a large company's invoices (each total is
    its own) all miss, and a Python call per cell around ``repr`` + parse + quantise was a third of it.
    """
    total = sum(floats)
    # A NaN makes the sum NaN; without one, the largest magnitude says whether all are inside the limit.
    if total != total or not floats or max(map(abs, floats)) >= _QUICK_LIMIT:
        return None if floats else []
    found = list(
        map(Decimal.quantize, map(Decimal, map(repr, floats)), repeat(places), repeat(ROUND_HALF_UP))
    )
    kept = kept_conversions(places)
    if kept is not None and len(kept) < _KEPT_PER_PLACES:
        # As quick_decimal keeps them: never zero (0.0 and -0.0 are one key), never past the bound.
        fresh = ((value, result) for value, result in zip(floats, found, strict=True) if value)
        kept.update(islice(fresh, _KEPT_PER_PLACES - len(kept)))
    return found


def kept_conversions(places: Decimal) -> dict[float, Decimal] | None:
    """The bounded dict of floats already converted to ``places`` (what ``quick_decimal`` looks in first),
    None for places that keep none: a column of floats can be looked up in it with ``map(kept.get, ...)``."""
    return _kept_cents if places is CENT else _kept_fourths if places is RATE_PLACES else None


def aware_cell(value: Any, zone: tzinfo | None) -> datetime | None:
    """``core.records.aware(value, zone)``, quick for the naive datetime or date a driver sends."""
    found = quick_aware(value, zone)
    return found if found is not None else aware(value, zone)


def quick_aware(value: Any, zone: tzinfo | None) -> datetime | None:
    """What ``aware(value, zone)`` gives for a naive datetime or a date, None for every other value (NULL
    included) and for those the reference must convert itself.

    A naive value gets ``zone`` with ``fold=0`` (the earlier instant of a repeated hour), as ``aware``
    gives it. Without a zone, the PC's offset for that day, found once per day (``_pc_zone_of_day``); on a
    day the PC's clock changes, ``aware`` does the work for each cell.
    """
    kind = type(value)
    if kind is datetime:
        if value.tzinfo is None and not value.fold:
            day_zone = zone if zone is not None else _pc_zone_of_day(value.toordinal())
            if day_zone is not None:
                return datetime.combine(value, value.time(), day_zone)
    elif kind is date:
        day_zone = zone if zone is not None else _pc_zone_of_day(value.toordinal())
        if day_zone is not None:
            return datetime.combine(value, _MIDNIGHT, day_zone)
    return None


def _pc_zone_of_day(ordinal: int) -> tzinfo | None:
    """The PC's offset for the whole of day ``ordinal`` (as ``astimezone`` names it), None when it changes."""
    global _pc_rules
    rules = (clock.tzname, clock.timezone, clock.altzone, clock.daylight)
    if rules != _pc_rules:
        _pc_days.clear()
        _pc_rules = rules
    found = _pc_days.get(ordinal, _NOT_KEPT)
    if found is not _NOT_KEPT:
        return found  # type: ignore[return-value]  # a kept tzinfo or None
    if len(_pc_days) >= _KEPT_DAYS:
        return None
    steady = _steady_day(ordinal)
    _pc_days[ordinal] = steady
    return steady


def _steady_day(ordinal: int) -> tzinfo | None:
    try:
        start = datetime.fromordinal(ordinal)
        seen = []
        for offset in _DAY_POINTS:
            naive = start + offset
            local = naive.astimezone()
            if local.replace(tzinfo=None) != naive:
                return None  # a gap: that wall time does not exist as such
            seen.append((local.utcoffset(), local.tzname(), local.tzinfo))
    except (ValueError, OverflowError, OSError):
        return None  # outside what the platform can convert: aware says so for the cell itself
    if any(point[:2] != seen[0][:2] for point in seen):
        return None
    return seen[0][2]
